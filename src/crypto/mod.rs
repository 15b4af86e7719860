//! Cryptography: signing keys, secret box, blind index, passwords, random tokens.
