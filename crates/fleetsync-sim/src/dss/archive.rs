//! Plugin archives served by `GET /plugins/{id}/download`: a real zip of a few generated
//! files (`plugin.json`, a python library, a README).

use super::state::SimPlugin;
use super::wire;
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;

/// The zip of a dev plugin's files.
pub(crate) fn plugin_zip(p: &SimPlugin) -> Result<Vec<u8>, zip::result::ZipError> {
    let manifest = serde_json::to_string_pretty(&wire::plugin_json(p))
        .map_err(|e| zip::result::ZipError::Io(std::io::Error::other(e)))?;
    let module = p.id.replace('-', "_");
    let files: Vec<(String, String)> = vec![
        ("plugin.json".into(), manifest),
        (
            "README.md".into(),
            format!("# {}\n\n{}\n", p.label, p.description),
        ),
        (
            format!("python-lib/{module}/__init__.py"),
            format!(
                "\"\"\"{} helpers.\"\"\"\n\nVERSION = \"{}\"\n",
                p.label, p.version
            ),
        ),
    ];
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in files {
        w.start_file(name, opts)?;
        w.write_all(text.as_bytes())?;
    }
    Ok(w.finish()?.into_inner())
}
