//! Writing a package: its files, a manifest of their SHA-256 hashes, and the zip archive, all
//! byte for byte the same for the same files.
//!
//! What makes the bytes reproducible: files are written sorted by name; every entry carries the
//! same timestamp, the package's own date (an input, never the clock); permissions and the
//! "made by" system are fixed (the zip crate would otherwise take the host's); compression is
//! deflate at a fixed level by one pure-Rust implementation; the manifest lists files in name
//! order with fields in a fixed order.

use std::io::{Cursor, Write as _};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

/// The name of the JSON manifest in every package.
pub const MANIFEST: &str = "manifest.json";
/// The name of the `sha256sum --check` file in every package.
pub const SHA256SUMS: &str = "SHA256SUMS";
/// The deflate level of every entry (flate2's default; fixed so that output does not drift).
const DEFLATE_LEVEL: i64 = 6;

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    /// Its path inside the archive, `/`-separated.
    pub name: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

impl PackageFile {
    /// A file holding `text`.
    #[must_use]
    pub fn text(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            bytes: text.into().into_bytes(),
        }
    }
}

/// The lowercase hexadecimal SHA-256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// One line of the manifest.
#[derive(Serialize)]
struct ManifestFile<'a> {
    name: &'a str,
    bytes: usize,
    sha256: String,
}

/// The manifest: what the package is (its kind and the inputs it was built from) and each
/// file's size and hash.
#[derive(Serialize)]
struct Manifest<'a> {
    package: &'a str,
    inputs: &'a serde_json::Value,
    files: Vec<ManifestFile<'a>>,
}

/// Adds `manifest.json` and `SHA256SUMS` for `files` (which must not hold them already) and
/// zips everything, entries sorted by name and dated `date`.
///
/// # Errors
/// When the zip writer fails (it writes to memory, so only on an invalid name or date).
pub fn write(
    package: &str,
    inputs: &serde_json::Value,
    mut files: Vec<PackageFile>,
    date: NaiveDate,
) -> anyhow::Result<Vec<u8>> {
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let manifest = Manifest {
        package,
        inputs,
        files: files
            .iter()
            .map(|file| ManifestFile {
                name: &file.name,
                bytes: file.bytes.len(),
                sha256: sha256_hex(&file.bytes),
            })
            .collect(),
    };
    let sums: String = manifest
        .files
        .iter()
        .map(|file| format!("{}  {}\n", file.sha256, file.name))
        .collect();
    let mut manifest_json = serde_json::to_string_pretty(&manifest)?;
    manifest_json.push('\n');
    files.push(PackageFile::text(MANIFEST, manifest_json));
    files.push(PackageFile::text(SHA256SUMS, sums));
    files.sort_by(|a, b| a.name.cmp(&b.name));

    // Zip dates run from 1980 to 2107; the period bounds keep package dates inside.
    let stamp = DateTime::from_date_and_time(
        u16::try_from(date.year())?,
        u8::try_from(date.month())?,
        u8::try_from(date.day())?,
        0,
        0,
        0,
    )
    .map_err(|_| anyhow::anyhow!("{date} cannot be a zip timestamp"))?;
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(stamp)
        .system(System::Unix)
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for file in &files {
        zip.start_file(file.name.as_str(), options)?;
        zip.write_all(&file.bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_files_in_any_order_give_the_same_bytes() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let files = vec![
            PackageFile::text("b.csv", "x,y\n1,2\n"),
            PackageFile::text("a.md", "# A\n"),
        ];
        let inputs = serde_json::json!({ "on": "2026-03-31" });
        let first = write("handoff", &inputs, files.clone(), date).unwrap();
        let reversed: Vec<PackageFile> = files.into_iter().rev().collect();
        let second = write("handoff", &inputs, reversed, date).unwrap();
        assert_eq!(first, second);

        let mut archive = zip::ZipArchive::new(Cursor::new(first)).unwrap();
        let names: Vec<String> = (0..archive.len())
            .map(|index| {
                archive
                    .by_index(index)
                    .unwrap()
                    .name()
                    .unwrap()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["SHA256SUMS", "a.md", "b.csv", "manifest.json"]);
        let mut sums = String::new();
        std::io::Read::read_to_string(&mut archive.by_name(SHA256SUMS).unwrap(), &mut sums)
            .unwrap();
        assert_eq!(
            sums.lines().next().unwrap(),
            format!("{}  a.md", sha256_hex(b"# A\n"))
        );
    }
}
