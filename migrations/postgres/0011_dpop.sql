-- Leasify ID: DPoP, sender-constrained tokens (RFC 9449) (PostgreSQL).
-- Keep in step with migrations/sqlite/0011_dpop.sql.

-- RFC 9449 §5.2: the client's token requests must carry a DPoP proof, so its access tokens are
-- always bound to a key.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
-- RFC 9449 §8 and §9: the client's proofs must carry a nonce this server gave out.
ALTER TABLE clients ADD COLUMN require_dpop_nonce BOOLEAN NOT NULL DEFAULT FALSE;

-- RFC 9449 §10: the code may be exchanged only with a proof of this key (the thumbprint from
-- `dpop_jkt` at /authorize, or from the proof sent to /par).
ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT;

-- RFC 9449 §5: a public client's refresh token is bound to the key of the proof it was issued
-- with; its successors keep the binding.
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;
