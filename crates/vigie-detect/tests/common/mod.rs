//! Loading the labelled IODA datasets of the shared data folder.

#![allow(dead_code)]

use std::path::PathBuf;

use vigie_detect::{Dataset, Label};
use vigie_import::{import_path, ImportFormat, ImportOptions};

/// The shared data folder (see `vigie_testdata::shared_data`).
pub fn shared_data() -> Option<PathBuf> {
    vigie_testdata::shared_data("")
}

/// The three labelled IODA exports: (name, file, entity).
pub const DATASETS: [(&str, &str, &str); 3] = [
    ("Iraq 2023", "ioda_country_IQ_iraq.csv", "IQ"),
    (
        "Gaza Strip 2023",
        "ioda_region_1226_gazastrip.csv",
        "PS/Gaza Strip",
    ),
    (
        "Zhytomyr 2022",
        "ioda_region_4369_zhytomyr.csv",
        "UA/Zhytomyr",
    ),
];

/// Loads one labelled dataset through the IODA CSV importer.
pub fn load(dir: &std::path::Path, name: &str, file: &str, entity: &str) -> Dataset {
    let entity: vigie_model::Entity = entity.parse().expect("entity");
    let options = ImportOptions {
        entity: Some(entity.clone()),
        ..ImportOptions::default()
    };
    let imported = import_path(
        &dir.join("signals").join(file),
        ImportFormat::IodaCsv,
        &options,
    )
    .expect("import");
    Dataset {
        name: name.to_string(),
        entity,
        labels: imported
            .labels
            .iter()
            .map(|span| Label::new(span.entity.clone(), span.start, span.end))
            .collect(),
        series: imported.series,
        // UTC days: the zone tables live above this crate.
        local_offset: 0,
    }
}

/// All three datasets, or `None` when the data is absent.
pub fn load_all() -> Option<Vec<Dataset>> {
    let dir = shared_data()?;
    Some(
        DATASETS
            .iter()
            .map(|(n, f, e)| load(&dir, n, f, e))
            .collect(),
    )
}
