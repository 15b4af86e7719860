//! Who a person is beyond an email address: the Swedish personnummer (parsing, masking) and the
//! sealed copy of it on an account. Used by login (BankID), the account pages and UserInfo.

pub mod personnummer;
pub mod sealed;
