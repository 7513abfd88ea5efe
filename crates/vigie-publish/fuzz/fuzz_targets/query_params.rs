//! Any query string given to the API's parameter parsing, and any text as an
//! incident id: a value or a 400, never a panic.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use vigie_publish::data::parse_incident_id;
use vigie_publish::params::Params;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let map: HashMap<String, String> = text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let params = Params(map);
    for name in ["from", "until", "time"] {
        let _ = params.time(name);
    }
    if let Ok(page) = params.page() {
        assert!(page.limit >= 1 && page.limit <= vigie_publish::params::MAX_PAGE_SIZE);
    }
    let _ = params.entity("entity");
    let _ = params.signal("signal");
    let _ = params.bin();
    let _ = params.bounded("maxPoints", 200_000);
    let _ = parse_incident_id(&text);
});
