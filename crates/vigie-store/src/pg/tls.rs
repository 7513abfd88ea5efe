//! TLS to PostgreSQL, as libpq's users expect from a URL's `sslmode` and
//! `sslrootcert` parameters (rustls with ring; no OpenSSL).
//!
//! - `sslmode=disable`: no TLS.
//! - `sslmode=prefer` (the default, as libpq's): TLS when the server offers
//!   it, in clear otherwise; the certificate is not checked.
//! - `sslmode=require`: TLS or no connection; the certificate is not
//!   checked, unless `sslrootcert` is given (then as `verify-ca`, as libpq).
//! - `sslmode=verify-ca`: the server's certificate must chain to
//!   `sslrootcert` (a PEM file), or to the system's roots when absent or
//!   `sslrootcert=system`.
//! - `sslmode=verify-full`: as `verify-ca`, and the certificate must name
//!   the host of the URL.
//!
//! `tokio-postgres` knows only `disable`, `prefer` and `require` and no
//! `sslrootcert`: both are taken out of the URL here, and the rest is
//! parsed by [`postgres::Config`] with the mode it knows.

use std::path::Path;
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, RootCertStore,
    SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values that vigie follows (`allow` is not one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The mode `tokio-postgres` negotiates with (certificate checks are
    /// the verifier's).
    fn negotiation(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => "require",
        }
    }
}

/// Where the trusted roots come from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Roots {
    /// No `sslrootcert`: none for `prefer`/`require`, the system's for
    /// `verify-*`.
    Unset,
    /// `sslrootcert=system`.
    System,
    /// `sslrootcert=PATH`, a PEM file.
    File(String),
}

/// A URL's TLS parameters, and the rest of it for [`postgres::Config`].
#[derive(Debug)]
pub(crate) struct TlsUrl {
    /// The URL without `sslrootcert`, its `sslmode` one `tokio-postgres` knows.
    pub(crate) rest: String,
    pub(crate) mode: SslMode,
    roots: Roots,
}

/// Takes `sslmode` and `sslrootcert` out of `url`; `Err` says what is wrong.
pub(crate) fn split_url(url: &str) -> Result<TlsUrl, String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = SslMode::Prefer;
    let mut roots = Roots::Unset;
    let mut kept: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |text: &str| {
            percent_decode_str(text)
                .decode_utf8()
                .map(|text| text.into_owned())
                .map_err(|_| format!("{key}: not UTF-8 once percent-decoded"))
        };
        match decode(key)?.as_str() {
            "sslmode" => {
                let value = decode(value)?;
                mode = SslMode::parse(&value).ok_or_else(|| {
                    format!(
                        "sslmode={value} is not a TLS mode: use disable, prefer, require, \
                         verify-ca or verify-full"
                    )
                })?;
            }
            "sslrootcert" => {
                let value = decode(value)?;
                roots = match value.as_str() {
                    "" => return Err("sslrootcert is empty: give the path of a PEM file".into()),
                    "system" => Roots::System,
                    _ => Roots::File(value),
                };
            }
            _ => kept.push(pair),
        }
    }
    kept.push(match mode.negotiation() {
        "disable" => "sslmode=disable",
        "prefer" => "sslmode=prefer",
        _ => "sslmode=require",
    });
    Ok(TlsUrl {
        rest: format!("{base}?{}", kept.join("&")),
        mode,
        roots,
    })
}

impl TlsUrl {
    /// The connector for this URL: which certificates it accepts follows
    /// `sslmode` and `sslrootcert`. `Err` says what to do.
    pub(crate) fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let check = match (self.mode, &self.roots) {
            (SslMode::Disable | SslMode::Prefer | SslMode::Require, Roots::Unset) => None,
            (SslMode::VerifyFull, _) => Some(true),
            _ => Some(false),
        };
        let verifier: Arc<dyn ServerCertVerifier> = match check {
            None => Arc::new(LaxVerifier {
                chain: None,
                provider: provider.clone(),
            }),
            Some(names_host) => {
                let roots = Arc::new(self.root_store()?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| format!("setting up the certificate check: {e}"))?;
                if names_host {
                    webpki
                } else {
                    Arc::new(LaxVerifier {
                        chain: Some(webpki),
                        provider: provider.clone(),
                    })
                }
            }
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("setting up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }

    fn root_store(&self) -> Result<RootCertStore, String> {
        let mut store = RootCertStore::empty();
        match &self.roots {
            Roots::File(path) => {
                let certs = read_pem_certificates(Path::new(path))?;
                for cert in certs {
                    store.add(cert).map_err(|e| {
                        format!(
                            "sslrootcert={path}: a certificate in it is not usable ({e}): \
                             give the PEM file of the CA that signed the server's certificate"
                        )
                    })?;
                }
            }
            Roots::Unset | Roots::System => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    let errors: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                    return Err(format!(
                        "no system root certificates were found to check the server's \
                         certificate ({}): give sslrootcert=PATH, the PEM file of the CA \
                         that signed it, or install the ca-certificates package",
                        if errors.is_empty() {
                            "none installed".to_string()
                        } else {
                            errors.join("; ")
                        }
                    ));
                }
            }
        }
        Ok(store)
    }
}

/// The certificates of a PEM file, or what to do.
fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "sslrootcert={shown} cannot be read ({e}): give the path of a PEM file holding \
             the CA certificate that signed the server's"
        )
    })?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!("sslrootcert={shown} is not a PEM file ({e:?}): give the CA certificate in PEM")
        })?;
    if certs.is_empty() {
        return Err(format!(
            "sslrootcert={shown} holds no certificate (no -----BEGIN CERTIFICATE-----): \
             give the CA certificate in PEM"
        ));
    }
    Ok(certs)
}

/// `prefer` and `require` without `sslrootcert` (no `chain`): any
/// certificate, as libpq; `verify-ca`: the chain to a trusted root,
/// whatever host it names (the name is checked last, once the chain
/// holds). The handshake's signatures are checked either way.
#[derive(Debug)]
struct LaxVerifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for LaxVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The TLS failure in a connection error, said with what to do; `None`
/// when the connection failed for another reason.
pub(crate) fn tls_failure(error: &postgres::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        let rustls_error = current.downcast_ref::<TlsError>().or_else(|| {
            current
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<TlsError>())
        });
        if let Some(TlsError::InvalidCertificate(problem)) = rustls_error {
            let what_to_do = match problem {
                CertificateError::UnknownIssuer => {
                    "give sslrootcert=PATH, the PEM file of the CA that signed the server's \
                     certificate (the system's roots are used without it)"
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "connect by a host name the certificate holds, or use sslmode=verify-ca \
                     to check its chain only"
                }
                _ => "check the server's certificate (its dates, its use) and sslrootcert",
            };
            return Some(format!(
                "the server's certificate was refused ({problem}): {what_to_do}"
            ));
        }
        if let Some(other) = rustls_error {
            return Some(format!("the TLS handshake failed: {other}"));
        }
        if current.to_string().contains("server does not support TLS") {
            return Some(
                "the server does not offer TLS: set `ssl = on` (with a certificate) in its \
                 postgresql.conf, or use sslmode=prefer or disable"
                    .to_string(),
            );
        }
        cause = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_keeps_what_tokio_postgres_knows_and_gives_the_rest_to_the_connector() {
        let tls = split_url("postgres://u:p@db:5433/v?sslmode=verify-full&sslrootcert=%2Fetc%2Fvigie%2Fpg-ca.pem&application_name=vigie").unwrap();
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.roots, Roots::File("/etc/vigie/pg-ca.pem".into()));
        assert_eq!(
            tls.rest,
            "postgres://u:p@db:5433/v?application_name=vigie&sslmode=require"
        );
        let config: postgres::Config = tls.rest.parse().unwrap();
        assert_eq!(config.get_ssl_mode(), postgres::config::SslMode::Require);
        // libpq's default is prefer.
        let tls = split_url("postgres://u@db/v").unwrap();
        assert_eq!(tls.mode, SslMode::Prefer);
        assert_eq!(tls.rest, "postgres://u@db/v?sslmode=prefer");
        assert_eq!(
            split_url("postgres://u@db/v?sslmode=verify-ca&sslrootcert=system")
                .unwrap()
                .roots,
            Roots::System
        );
        let err = split_url("postgres://u@db/v?sslmode=allow").unwrap_err();
        assert!(err.contains("verify-full"), "{err}");
        let err = split_url("postgres://u@db/v?sslrootcert=").unwrap_err();
        assert!(err.contains("PEM"), "{err}");
    }

    #[test]
    fn a_missing_or_empty_root_file_says_what_to_give() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let url = format!(
            "postgres://u@db/v?sslmode=verify-full&sslrootcert={}",
            missing.display()
        );
        let err = split_url(&url).unwrap().connector().err().unwrap();
        assert!(
            err.contains("cannot be read") && err.contains("PEM"),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let url = format!(
            "postgres://u@db/v?sslmode=verify-ca&sslrootcert={}",
            empty.display()
        );
        let err = split_url(&url).unwrap().connector().err().unwrap();
        assert!(err.contains("holds no certificate"), "{err}");
        // No certificate is read for the modes that check none.
        assert!(split_url("postgres://u@db/v?sslmode=require")
            .unwrap()
            .connector()
            .is_ok());
    }
}
