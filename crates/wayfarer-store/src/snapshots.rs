//! Saved journey maps, one JSON file per snapshot in `DIR/snapshots/`
//! (`NAME.json`, written atomically). The store keeps the files; what a
//! snapshot holds (the maps, the configuration's hash, the data range) is
//! the engine's (`wayfarer_engine::journey::snapshot`).

use std::path::{Path, PathBuf};

use crate::StoreError;
use crate::manifest::write_atomic;

pub const DIR: &str = "snapshots";

/// The snapshots directory of a data directory.
pub fn dir(data: &Path) -> PathBuf {
    data.join(DIR)
}

/// Checks a snapshot name: 1–64 letters, digits, `.`, `_` or `-`, not
/// starting with a dot (it is a file name).
pub fn check_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "snapshot name '{name}': use 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.')"
        )))
    }
}

/// Saves a snapshot's bytes; a taken name is an error unless `replace`.
pub fn save(data: &Path, name: &str, bytes: &[u8], replace: bool) -> Result<(), StoreError> {
    check_name(name)?;
    let dir = dir(data);
    std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
    let file = format!("{name}.json");
    if !replace && dir.join(&file).exists() {
        return Err(StoreError::Invalid(format!(
            "a snapshot named '{name}' exists; choose another --name or pass --replace"
        )));
    }
    write_atomic(&dir, &file, bytes)
}

/// The names of the saved snapshots, sorted.
pub fn names(data: &Path) -> Result<Vec<String>, StoreError> {
    let dir = dir(data);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(&dir, e)),
    };
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| StoreError::io(&dir, e))?;
        let file = e.file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".json")
            && check_name(name).is_ok()
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// A snapshot's bytes; a name that is not saved is an error naming the
/// closest saved one.
pub fn load(data: &Path, name: &str) -> Result<Vec<u8>, StoreError> {
    let names = names(data)?;
    if !names.iter().any(|n| n == name) {
        let hint = wayfarer_core::suggest::hint(name, &names);
        let known =
            if names.is_empty() { "none saved yet: wayfarer map snapshot".to_string() } else { names.join(", ") };
        return Err(StoreError::Invalid(format!("no snapshot named '{name}'{hint} (snapshots: {known})")));
    }
    let path = dir(data).join(format!("{name}.json"));
    std::fs::read(&path).map_err(|e| StoreError::io(&path, e))
}

/// Deletes a snapshot; false if there is none of that name.
pub fn delete(data: &Path, name: &str) -> Result<bool, StoreError> {
    check_name(name)?;
    let path = dir(data).join(format!("{name}.json"));
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::io(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_list_load_and_names_checked() {
        let d = tempfile::tempdir().unwrap();
        assert!(names(d.path()).unwrap().is_empty());
        save(d.path(), "q3", b"{\"a\":1}", false).unwrap();
        save(d.path(), "2026-10-01", b"{}", false).unwrap();
        assert_eq!(names(d.path()).unwrap(), ["2026-10-01", "q3"]);
        assert_eq!(load(d.path(), "q3").unwrap(), b"{\"a\":1}");
        let e = save(d.path(), "q3", b"{}", false).unwrap_err().to_string();
        assert!(e.contains("--replace"), "{e}");
        save(d.path(), "q3", b"{}", true).unwrap();
        let e = load(d.path(), "q4").unwrap_err().to_string();
        assert!(e.contains("'q4'") && e.contains("q3"), "{e}");
        for bad in ["", "../x", ".hidden", "a b", &"x".repeat(65)] {
            assert!(save(d.path(), bad, b"{}", false).is_err(), "{bad}");
        }
        assert!(delete(d.path(), "q3").unwrap());
        assert!(!delete(d.path(), "q3").unwrap());
        assert!(!d.path().join("snapshots/q3.json.part").exists());
    }
}
