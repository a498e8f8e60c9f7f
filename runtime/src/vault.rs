//! Credentials at rest: sealed with XChaCha20-Poly1305 under one key, from
//! `TIB_KEY` (64 hex digits) or a key file created owner-only on first use.
//!
//! Each sealed value is bound to its connection (integration and account as
//! associated data), so credentials copied onto another row do not open.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use tib_support::{CredentialValues, Secret};

use crate::store::Connection;

/// Where the key came from, for error messages.
#[derive(Clone, Debug)]
pub enum KeySource {
    Env,
    File(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Env => f.write_str("TIB_KEY"),
            KeySource::File(path) => write!(f, "the key file {}", path.display()),
        }
    }
}

pub struct Vault {
    cipher: XChaCha20Poly1305,
    source: KeySource,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Vault({})", self.source)
    }
}

const NONCE: usize = 24;

impl Vault {
    /// The key from `env_key` when set, else from `key_file`, which is created
    /// (mode 0600) when it does not exist.
    pub fn open(env_key: Option<&str>, key_file: &Path) -> Result<Vault, String> {
        let (hex_key, source) = match env_key {
            Some(key) => (key.trim().to_owned(), KeySource::Env),
            None => (read_or_create(key_file)?, KeySource::File(key_file.to_owned())),
        };
        let bytes = hex::decode(&hex_key)
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| format!("{source} does not hold a key: it must be 64 hex digits (32 bytes)"))?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|e| format!("{source}: {e}"))?;
        Ok(Vault { cipher, source })
    }

    /// A connection's credentials, opened, with whether each is secret as its spec says.
    pub fn credentials(&self, connection: &Connection, spec: &tib_support::Spec) -> Result<CredentialValues, String> {
        let name = connection.name();
        let values = self.open_sealed(&connection.sealed_credentials, &name)?;
        if values.len() != spec.credentials.len() {
            return Err(format!(
                "the {} spec now asks for other credentials than were given at connect time; connect {name} again",
                connection.integration
            ));
        }
        Ok(CredentialValues::new(values.into_iter().zip(spec.credentials.iter().map(|c| c.secret)).collect()))
    }

    /// Seals `values` (a connection's credentials, in spec order) for the connection `bound_to`.
    pub fn seal(&self, values: &[Secret], bound_to: &str) -> Result<Vec<u8>, String> {
        let plain = serde_json::to_vec(&values.iter().map(Secret::expose).collect::<Vec<_>>())
            .map_err(|e| format!("cannot encode credentials: {e}"))?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: &plain, aad: bound_to.as_bytes() })
            .map_err(|_| "cannot encrypt credentials".to_owned())?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Opens what [`Vault::seal`] sealed for the same connection.
    pub fn open_sealed(&self, sealed: &[u8], bound_to: &str) -> Result<Vec<Secret>, String> {
        let wrong = || {
            format!(
                "cannot decrypt the credentials of {bound_to}: {} is not the key they were encrypted with",
                self.source
            )
        };
        if sealed.len() < NONCE {
            return Err(wrong());
        }
        let (nonce, body) = sealed.split_at(NONCE);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: bound_to.as_bytes() })
            .map_err(|_| wrong())?;
        let values: Vec<String> = serde_json::from_slice(&plain).map_err(|_| wrong())?;
        Ok(values.into_iter().map(Secret::new).collect())
    }

    /// Seals one text (tokens, a PKCE verifier) for `bound_to`.
    pub fn seal_text(&self, text: &str, bound_to: &str) -> Result<Vec<u8>, String> {
        self.seal(&[Secret::new(text)], bound_to)
    }

    /// Opens what [`Vault::seal_text`] sealed for the same binding.
    pub fn open_text(&self, sealed: &[u8], bound_to: &str) -> Result<String, String> {
        let values = self.open_sealed(sealed, bound_to)?;
        Ok(values.first().map(|v| v.expose().to_owned()).unwrap_or_default())
    }
}

fn read_or_create(path: &Path) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_permissions(path)?;
            Ok(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            chacha20poly1305::aead::rand_core::RngCore::fill_bytes(&mut OsRng, &mut key);
            let text = hex::encode(key);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            // Written aside, then linked into place: a process starting at the
            // same moment either wins the link or reads the key that did.
            let aside = path.with_extension(format!("new-{}", std::process::id()));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let written = options.open(&aside).and_then(|mut file| file.write_all(text.as_bytes()));
            let linked = written.and_then(|()| std::fs::hard_link(&aside, path));
            let _ = std::fs::remove_file(&aside);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return read_or_create(path),
                Err(e) => return Err(format!("cannot create the key file {}: {e}", path.display())),
            }
            tracing::info!(path = %path.display(), "created a new credentials key file (keep it: without it, stored credentials cannot be read)");
            Ok(text)
        }
        Err(e) => Err(format!("cannot read the key file {}: {e}", path.display())),
    }
}

/// A key file others can read is refused rather than used.
fn check_permissions(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "the key file {} can be read by others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_bound_to_the_connection_and_refuses_a_wrong_key() {
        let dir = tempfile::tempdir().expect("dir");
        let key_file = dir.path().join("keys/tib.key");
        let vault = Vault::open(None, &key_file).expect("new key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).expect("key file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed = vault.seal(&[Secret::new("acme"), Secret::new("tok-secret-1")], "okta/Prod").expect("sealed");
        assert!(!String::from_utf8_lossy(&sealed).contains("tok-secret-1"));
        let again = Vault::open(None, &key_file).expect("same key");
        let opened = again.open_sealed(&sealed, "okta/Prod").expect("opened");
        assert_eq!(opened.iter().map(Secret::expose).collect::<Vec<_>>(), ["acme", "tok-secret-1"]);
        assert!(again.open_sealed(&sealed, "okta/Dev").is_err(), "bound to its connection");

        let other = Vault::open(Some(&"ab".repeat(32)), &key_file).expect("env key");
        let error = other.open_sealed(&sealed, "okta/Prod").expect_err("wrong key");
        assert_eq!(
            error,
            "cannot decrypt the credentials of okta/Prod: TIB_KEY is not the key they were encrypted with"
        );
        assert!(Vault::open(Some("short"), &key_file).expect_err("bad").contains("64 hex digits"));
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let key_file = dir.path().join("tib.key");
        std::fs::write(&key_file, "ab".repeat(32)).expect("write");
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(Vault::open(None, &key_file).expect_err("refused").contains("chmod 600"));
    }
}
