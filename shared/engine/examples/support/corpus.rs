//! The conformance corpus: descriptions separated by lines holding only `---`; lines starting
//! with `#` are comments.

pub fn read(path: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Ok(text
        .split("\n---\n")
        .map(|d| {
            d.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect())
}

pub fn write(path: &std::path::Path, xml: &str) {
    if let Err(e) = std::fs::write(path, xml) {
        eprintln!("cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
}

pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}
