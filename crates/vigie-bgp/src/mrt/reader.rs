//! Opening MRT files: compression by magic bytes, byte offsets for errors.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

/// How an MRT file is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`.gz`), possibly several concatenated members.
    Gzip,
    /// bzip2 (`.bz2`), possibly several concatenated streams.
    Bzip2,
    /// No compression.
    Plain,
}

impl Compression {
    /// Detects the compression from the first bytes of a file.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else {
            Compression::Plain
        }
    }
}

/// Counts bytes as they pass, shared with whoever holds a [`ByteCounter`].
pub struct CountingReader<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

/// A handle on the byte count of a [`CountingReader`].
#[derive(Clone)]
pub struct ByteCounter(Rc<Cell<u64>>);

impl ByteCounter {
    /// Bytes read so far.
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Remembers the first read error of the stream it wraps (a truncated or
/// corrupt compressed stream), which record parsers may report as a plain
/// end of file.
struct DamageLatch<R> {
    inner: R,
    damage: Rc<RefCell<Option<String>>>,
}

impl<R: Read> Read for DamageLatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                self.damage
                    .borrow_mut()
                    .get_or_insert_with(|| e.to_string());
            }
        })
    }
}

/// A handle on the first read error of an opened file's stream.
#[derive(Clone, Default)]
pub struct StreamDamage(Rc<RefCell<Option<String>>>);

impl StreamDamage {
    /// The first error met reading the file or decompressing it, if any.
    pub fn get(&self) -> Option<String> {
        self.0.borrow().clone()
    }
}

fn counting<R>(inner: R) -> (CountingReader<R>, ByteCounter) {
    let count = Rc::new(Cell::new(0));
    (
        CountingReader {
            inner,
            count: Rc::clone(&count),
        },
        ByteCounter(count),
    )
}

/// An opened MRT file: decompressed bytes, with counters of the compressed
/// bytes read (for progress) and of the decompressed bytes read (for error
/// offsets).
pub struct OpenedMrt {
    /// The decompressed MRT byte stream.
    pub reader: CountingReader<Box<dyn Read>>,
    /// Decompressed bytes consumed so far: the offset named in errors.
    pub decompressed: ByteCounter,
    /// Bytes of the file itself read so far: progress.
    pub on_disk: ByteCounter,
    /// The compression found.
    pub compression: Compression,
    /// The file's size on disk.
    pub size: u64,
    /// The first error met decompressing (a cut or corrupt stream): the
    /// file is damaged even when the record parser saw only an end of file.
    pub damage: StreamDamage,
}

/// Whether the file's name says it is compressed (`.gz`, `.bz2`).
fn named_compressed(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("bz2"))
}

/// Opens an MRT file, detecting gzip, bzip2 or no compression from its
/// content. An empty file named `.gz` or `.bz2` is an `InvalidData` error:
/// a compressed file always has a header, so it is damaged (a cut
/// download), not an archive of no records.
pub fn open_mrt(path: &Path) -> io::Result<OpenedMrt> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    if size == 0 && named_compressed(path) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the file is empty (0 bytes) although its name says it is compressed: damaged or cut",
        ));
    }
    let mut head = [0u8; 3];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    let compression = Compression::sniff(&head[..got]);
    let file = File::open(path)?;
    let (raw, on_disk) = counting(BufReader::with_capacity(1 << 16, file));
    let damage = StreamDamage::default();
    let decoded: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(raw),
        )),
        Compression::Bzip2 => Box::new(BufReader::with_capacity(
            1 << 16,
            bzip2::read::MultiBzDecoder::new(raw),
        )),
        Compression::Plain => Box::new(raw),
    };
    let decoded: Box<dyn Read> = Box::new(DamageLatch {
        inner: decoded,
        damage: Rc::clone(&damage.0),
    });
    let (reader, decompressed) = counting(decoded);
    Ok(OpenedMrt {
        reader,
        decompressed,
        on_disk,
        compression,
        size,
        damage,
    })
}
