//! Referral codes (DESIGN §10): one per customer, made from the data
//! directory's secret (so it cannot be guessed from the customer's id) and
//! registered in `DIR/referrals/codes.ndjson` when first issued, so a click
//! on `/r/{code}` and a later order carrying the code find the referrer.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::tokens::Secret;

const DIR: &str = "referrals";
const FILE: &str = "codes.ndjson";

/// A registered code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Code {
    pub code: String,
    /// The referrer's id, and whether it is a user id (else anonymous).
    pub customer: String,
    pub user: bool,
    /// The discount the referral offer carries, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<String>,
}

/// The customer's code: 8 characters of a keyed hash, upper-case letters
/// and digits without look-alikes (no 0, O, 1, I).
pub fn code_for(secret: &Secret, customer: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mac = crate::tokens::mac_of(secret, "r", customer);
    mac.iter().take(8).map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char).collect()
}

/// Every registered code.
pub fn load(dir: &Path) -> Result<HashMap<String, Code>, StoreError> {
    let path = dir.join(DIR).join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    // A torn last line (a crash mid-append) is skipped.
    Ok(text.lines().filter_map(|l| serde_json::from_str::<Code>(l).ok()).map(|c| (c.code.clone(), c)).collect())
}

/// Registers codes not registered yet (durable when this returns).
pub fn register(dir: &Path, codes: &[Code]) -> Result<(), StoreError> {
    let known = load(dir)?;
    let mut text = Vec::new();
    for c in codes.iter().filter(|c| !known.contains_key(&c.code)) {
        serde_json::to_writer(&mut text, c).map_err(|e| StoreError::Internal(e.to_string()))?;
        text.push(b'\n');
    }
    if text.is_empty() {
        return Ok(());
    }
    let sub = dir.join(DIR);
    std::fs::create_dir_all(&sub).map_err(|e| StoreError::io(&sub, e))?;
    let _lock = crate::segment_defs::Lock::named(&sub, "codes.lock")?;
    crate::manifest::append_durable(&sub.join(FILE), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_keyed_and_registered_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::tokens::secret(dir.path()).unwrap();
        let a = code_for(&s, "ann");
        assert_eq!(a, code_for(&s, "ann"));
        assert_ne!(a, code_for(&s, "bob"));
        assert!(a.len() == 8 && a.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        let code = Code { code: a.clone(), customer: "ann".into(), user: true, discount_code: Some("FRIEND10".into()) };
        register(dir.path(), std::slice::from_ref(&code)).unwrap();
        register(dir.path(), std::slice::from_ref(&code)).unwrap();
        let all = load(dir.path()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[&a], code);
        let lines = std::fs::read_to_string(dir.path().join(DIR).join(FILE)).unwrap();
        assert_eq!(lines.lines().count(), 1);
    }
}
