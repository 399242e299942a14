//! Draws BPMN files as SVG or PNG, light or dark: for looking at pictures, and for
//! `deploy/render_compare.sh`, which compares them with bpmn-js.
//!
//! Usage: `cargo run -p procmap-render --example render -- svg|png light|dark OUT_DIR FILE.bpmn...`
//! writes `OUT_DIR/<file stem>.<svg|png>` for each file.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [format, theme, out, files @ ..] = args.as_slice() else {
        eprintln!("usage: render svg|png light|dark OUT_DIR FILE.bpmn...");
        return ExitCode::FAILURE;
    };
    let Ok(theme) = theme.parse::<procmap_render::Theme>() else {
        eprintln!("theme must be light or dark, not {theme}");
        return ExitCode::FAILURE;
    };
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("cannot create {out}: {e}");
        return ExitCode::FAILURE;
    }
    let mut failed = false;
    for file in files {
        let path = Path::new(file);
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("diagram");
        let target = Path::new(out).join(format!("{stem}.{format}"));
        let drawn = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|xml| match format.as_str() {
                "svg" => procmap_render::svg(&xml, theme)
                    .map(String::into_bytes)
                    .map_err(|e| e.to_string()),
                "png" => procmap_render::png(&xml, theme).map_err(|e| e.to_string()),
                other => Err(format!("format must be svg or png, not {other}")),
            })
            .and_then(|bytes| std::fs::write(&target, bytes).map_err(|e| e.to_string()));
        if let Err(e) = drawn {
            eprintln!("{file}: {e}");
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
