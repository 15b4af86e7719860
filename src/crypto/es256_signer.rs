//! ES256 signatures for josekit's JWS code, made with OpenSSL's ECDSA on a key parsed once.
//!
//! josekit's own ES256 signer builds a new `EVP_DigestSign` context for every signature; with
//! OpenSSL 3 that means looking up the digest and signature providers each time, which cost as
//! much as the signature itself on the `client_credentials` path (issue 11's hot path). Here the
//! message is hashed with SHA-256 and signed with `ECDSA_do_sign` on the `EC_KEY` kept from
//! start-up; the output is the JWS form (RFC 7518 §3.4: R and S, 32 bytes each).

use std::fmt;

use josekit::JoseError;
use josekit::jws::{self, JwsAlgorithm, JwsSigner};
use openssl::ec::EcKey;
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::{PKey, Private};

/// Length of R and of S for P-256.
const COORDINATE_LEN: usize = 32;

#[derive(Clone)]
pub(crate) struct Es256Signer {
    key: EcKey<Private>,
    key_id: String,
}

impl Es256Signer {
    /// From a PKCS#8 DER private key on P-256.
    pub(crate) fn from_pkcs8_der(
        der: &[u8],
        key_id: String,
    ) -> Result<Self, openssl::error::ErrorStack> {
        let key = PKey::private_key_from_der(der)?.ec_key()?;
        key.check_key()?;
        Ok(Self { key, key_id })
    }
}

impl fmt::Debug for Es256Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Es256Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl JwsSigner for Es256Signer {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        &jws::ES256
    }

    fn key_id(&self) -> Option<&str> {
        Some(&self.key_id)
    }

    fn signature_len(&self) -> usize {
        2 * COORDINATE_LEN
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        let digest = openssl::sha::sha256(message);
        let signature = EcdsaSig::sign(&digest, &self.key)
            .map_err(|e| JoseError::InvalidSignature(e.into()))?;
        let mut out = signature
            .r()
            .to_vec_padded(COORDINATE_LEN as i32)
            .map_err(|e| JoseError::InvalidSignature(e.into()))?;
        out.extend(
            signature
                .s()
                .to_vec_padded(COORDINATE_LEN as i32)
                .map_err(|e| JoseError::InvalidSignature(e.into()))?,
        );
        Ok(out)
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}
