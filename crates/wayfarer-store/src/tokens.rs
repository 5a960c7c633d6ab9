//! Signed tokens for links that reach customers (DESIGN §10): hosted
//! survey links (`/s/{token}`), unsubscribe links and referral codes. A
//! token is `PURPOSE.PAYLOAD.SIGNATURE`: the payload (JSON, base64url) is
//! signed with HMAC-SHA256 under the data directory's secret
//! (`DIR/secret.key`, 32 random bytes made on first use, readable by the
//! owner only), over the purpose and the payload, so a token made for one
//! purpose cannot be used for another and no field can be changed.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

use crate::StoreError;

const SECRET: &str = "secret.key";

/// A signing secret: only [`secret`] makes one, so no token is ever signed
/// with an empty or short key.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The data directory's signing secret, made on first use.
pub fn secret(dir: &Path) -> Result<Secret, StoreError> {
    let path = dir.join(SECRET);
    match std::fs::read(&path) {
        Ok(b) if b.len() >= 32 => return Ok(Secret(b)),
        Ok(_) => return Err(StoreError::Corrupt(format!("{}: shorter than 32 bytes", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io(&path, e)),
    }
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(|e| StoreError::Internal(format!("no randomness for the secret: {e}")))?;
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let part = dir.join(format!("{SECRET}.part"));
    {
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(&part).map_err(|e| StoreError::io(&part, e))?;
        f.write_all(&key).map_err(|e| StoreError::io(&part, e))?;
        f.sync_all().map_err(|e| StoreError::io(&part, e))?;
    }
    // Two first uses at once: the first rename wins, and both read it back.
    if std::fs::hard_link(&part, &path).is_err() {
        let _ = std::fs::remove_file(&part);
        return secret(dir);
    }
    let _ = std::fs::remove_file(&part);
    crate::manifest::sync_dir(dir)?;
    Ok(Secret(key))
}

fn mac(secret: &[u8], purpose: &str, payload: &str) -> Vec<u8> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(purpose.as_bytes());
    m.update(b".");
    m.update(payload.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The keyed hash of a text for a purpose (referral codes).
pub fn mac_of(secret: &Secret, purpose: &str, text: &str) -> Vec<u8> {
    mac(&secret.0, purpose, text)
}

/// Signs a payload for a purpose (`s` for surveys, `u` for unsubscribing…).
pub fn sign<T: Serialize>(secret: &Secret, purpose: &str, payload: &T) -> String {
    let json = serde_json::to_vec(payload).unwrap_or_default();
    let p = B64.encode(json);
    let sig = B64.encode(mac(&secret.0, purpose, &p));
    format!("{purpose}.{p}.{sig}")
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not a token of this purpose, or altered, or signed under another
    /// secret.
    Forged,
}

/// The payload of a token of this purpose whose signature holds.
pub fn verify<T: for<'de> Deserialize<'de>>(secret: &Secret, purpose: &str, token: &str) -> Result<T, Refused> {
    let mut parts = token.splitn(3, '.');
    let (Some(p0), Some(p), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Refused::Forged);
    };
    if p0 != purpose {
        return Err(Refused::Forged);
    }
    let given = B64.decode(sig).map_err(|_| Refused::Forged)?;
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(&secret.0).expect("HMAC takes any key length");
    m.update(purpose.as_bytes());
    m.update(b".");
    m.update(p.as_bytes());
    m.verify_slice(&given).map_err(|_| Refused::Forged)?;
    let json = B64.decode(p).map_err(|_| Refused::Forged)?;
    serde_json::from_slice(&json).map_err(|_| Refused::Forged)
}

/// A hosted survey's token payload: who is asked, what, until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyToken {
    /// The customer's id (user id, else anonymous id).
    pub c: String,
    /// `nps`, `csat` or `ces`.
    pub k: String,
    /// The survey's name (e.g. the trigger's), recorded with the answer.
    pub n: String,
    /// Valid until (Unix seconds).
    pub e: i64,
    /// What the invitation was for (an occurrence id): one answer per token.
    pub o: String,
    /// Whether `c` is a user id (else an anonymous id).
    #[serde(default = "yes")]
    pub u: bool,
}

fn yes() -> bool {
    true
}

/// An unsubscribe link's payload: whose it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnsubscribeToken {
    pub c: String,
    #[serde(default = "yes")]
    pub u: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_refuse_forgeries() {
        let dir = tempfile::tempdir().unwrap();
        let s = secret(dir.path()).unwrap();
        assert_eq!(secret(dir.path()).unwrap().0, s.0, "the secret is made once");
        let t = SurveyToken {
            c: "ann".into(),
            k: "csat".into(),
            n: "after order".into(),
            e: 2_000_000_000,
            o: "x1".into(),
            u: true,
        };
        let token = sign(&s, "s", &t);
        assert_eq!(verify::<SurveyToken>(&s, "s", &token), Ok(t.clone()));
        // Another purpose, an altered payload, another secret: refused.
        assert_eq!(verify::<SurveyToken>(&s, "u", &token), Err(Refused::Forged));
        let altered = SurveyToken { c: "bob".into(), ..t };
        let forged =
            format!("s.{}.{}", B64.encode(serde_json::to_vec(&altered).unwrap()), token.rsplit('.').next().unwrap());
        assert_eq!(verify::<SurveyToken>(&s, "s", &forged), Err(Refused::Forged));
        assert_eq!(verify::<SurveyToken>(&Secret(vec![7u8; 32]), "s", &token), Err(Refused::Forged));
        assert_eq!(verify::<SurveyToken>(&s, "s", "s.garbage"), Err(Refused::Forged));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the secret is readable by others");
        }
    }
}
