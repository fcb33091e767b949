//! Sealed-box encryption of Actions secrets (libsodium `crypto_box_seal`, via `crypto_box`):
//! an ephemeral X25519 key pair, XSalsa20-Poly1305, output `eph_pk ‖ MAC ‖ ciphertext`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use crypto_box::PublicKey;

/// Seals `value` for the repo public key `key_b64` (standard base64, 32 bytes); returns the
/// base64 ciphertext GitHub expects in `encrypted_value`.
pub fn seal_secret(key_b64: &str, value: &[u8]) -> Result<String, String> {
    let raw = B64
        .decode(key_b64.trim())
        .map_err(|e| format!("public key is not base64: {e}"))?;
    let bytes: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| format!("public key has {} bytes, expected 32", raw.len()))?;
    let pk = PublicKey::from(bytes);
    let sealed = pk
        .seal(&mut rand::rngs::OsRng, value)
        .map_err(|e| format!("seal failed: {e}"))?;
    Ok(B64.encode(sealed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_box::SecretKey;

    #[test]
    fn sealed_value_opens_with_the_secret_key_and_has_48_bytes_overhead() {
        let sk = SecretKey::generate(&mut rand::rngs::OsRng);
        let pk_b64 = B64.encode(sk.public_key().as_bytes());
        let ct = seal_secret(&pk_b64, b"canary-value").unwrap();
        let raw = B64.decode(ct).unwrap();
        assert_eq!(raw.len(), 12 + 48);
        assert_eq!(sk.unseal(&raw).unwrap(), b"canary-value");
    }

    #[test]
    fn bad_key_is_an_error() {
        assert!(seal_secret("not base64!", b"x").is_err());
        assert!(seal_secret(&B64.encode([1u8; 5]), b"x").is_err());
    }
}
