//! Who may use the API: operators holding the admin token. The token is set
//! at start, from `TIB_ADMIN_TOKEN` or a file holding its SHA-256
//! (`sha256:<hex>`, as `tib hash-token` prints it). Only its hash is kept in
//! memory, and a presented token is compared by hash in constant time.

use sha2::{Digest, Sha256};

/// The admin token's SHA-256.
#[derive(Clone)]
pub struct AdminToken([u8; 32]);

impl AdminToken {
    pub fn from_token(token: &str) -> AdminToken {
        AdminToken(Sha256::digest(token.as_bytes()).into())
    }

    /// Reads a hash line, `sha256:` and 64 hex digits.
    pub fn from_hash_line(line: &str) -> Result<AdminToken, String> {
        let hex_digits = line.trim().strip_prefix("sha256:").ok_or("the admin token file holds no `sha256:` line")?;
        let mut digest = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut digest)
            .map_err(|e| format!("the admin token file's hash is not 64 hex digits: {e}"))?;
        Ok(AdminToken(digest))
    }

    /// The line a token file holds for this token.
    pub fn hash_line(&self) -> String {
        format!("sha256:{}", hex::encode(self.0))
    }

    /// Whether `presented` is the token: compared by hash, every byte looked at.
    pub fn accepts(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.iter().zip(&self.0).fold(0u8, |differ, (a, b)| differ | (a ^ b)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_and_its_hash_line_accept_the_token_only() {
        let token = AdminToken::from_token("s3cret-admin");
        assert!(token.accepts("s3cret-admin"));
        assert!(!token.accepts("s3cret-admin "));
        assert!(!token.accepts(""));
        let line = token.hash_line();
        assert!(line.starts_with("sha256:") && !line.contains("s3cret"), "{line}");
        assert!(AdminToken::from_hash_line(&format!("{line}\n")).expect("parses").accepts("s3cret-admin"));
        assert!(AdminToken::from_hash_line("s3cret-admin").is_err());
        assert!(AdminToken::from_hash_line("sha256:abc").is_err());
    }
}
