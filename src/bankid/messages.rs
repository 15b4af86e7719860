//! The messages shown to the person while a BankID order runs: BankID's recommended user
//! messages (RFA1–RFA23) chosen from collect hint codes and RP API error codes as the spec's
//! section 3.1 maps them, plus two messages of our own where BankID recommends none.
//!
//! Everything here is a pure function of codes; the texts live in `templates/locales/*/main.ftl`
//! under [`Rfa::message_key`].

use super::api::error_codes;
use super::client::BankIdError;

/// How the order was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// An animated QR code scanned with BankID on another device.
    Qr,
    /// The BankID app on the same device, launched with the autostart token.
    AutoStart,
}

/// A user message. `Rfa*` are BankID's recommended messages; the others are ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rfa {
    /// Starta BankID-appen.
    Rfa1,
    /// Du verkar inte ha BankID-appen … (the RP detects that there is no app).
    Rfa2,
    /// Åtgärden avbröts. Försök igen. (superseded by a newer order)
    Rfa3,
    /// An identification or signature is already in progress for this personnummer.
    Rfa4,
    /// Något gick fel. Försök igen. (BankID or the connection failed)
    Rfa5,
    /// Åtgärden avbröts. (the person cancelled)
    Rfa6,
    /// The app does not respond (the order expired).
    Rfa8,
    /// Enter the security code and choose Identify or Sign.
    Rfa9,
    /// Trying to start the BankID app.
    Rfa13,
    /// Searching for BankID on this computer (or a card).
    Rfa15A,
    /// Searching for BankID on this device.
    Rfa15B,
    /// The BankID is blocked or too old.
    Rfa16,
    /// No BankID app/program here (autostart did not start).
    Rfa17A,
    /// The QR code was not scanned.
    Rfa17B,
    /// BankID on this computer or a Mobile BankID?
    Rfa19,
    /// BankID on this device or another device?
    Rfa20,
    /// An identification or signing is in progress (unknown pending hint).
    Rfa21,
    /// Något gick fel. Försök igen. (internal or unknown failure; never blames BankID)
    Rfa22,
    /// Scan your ID document with the BankID app (`userMrtd`).
    Rfa23,
    /// Ours, like RFA21 (`userCallConfirm`): confirm in the app that you are in a call with us.
    ConfirmCall,
    /// Ours (`notSupportedByUserApp`): update the BankID app and try again.
    UpdateApp,
}

impl Rfa {
    pub const ALL: [Rfa; 21] = [
        Rfa::Rfa1,
        Rfa::Rfa2,
        Rfa::Rfa3,
        Rfa::Rfa4,
        Rfa::Rfa5,
        Rfa::Rfa6,
        Rfa::Rfa8,
        Rfa::Rfa9,
        Rfa::Rfa13,
        Rfa::Rfa15A,
        Rfa::Rfa15B,
        Rfa::Rfa16,
        Rfa::Rfa17A,
        Rfa::Rfa17B,
        Rfa::Rfa19,
        Rfa::Rfa20,
        Rfa::Rfa21,
        Rfa::Rfa22,
        Rfa::Rfa23,
        Rfa::ConfirmCall,
        Rfa::UpdateApp,
    ];

    /// The key of the text in `templates/locales/*/main.ftl`, e.g. `bankid-rfa1`.
    pub fn message_key(self) -> &'static str {
        match self {
            Rfa::Rfa1 => "bankid-rfa1",
            Rfa::Rfa2 => "bankid-rfa2",
            Rfa::Rfa3 => "bankid-rfa3",
            Rfa::Rfa4 => "bankid-rfa4",
            Rfa::Rfa5 => "bankid-rfa5",
            Rfa::Rfa6 => "bankid-rfa6",
            Rfa::Rfa8 => "bankid-rfa8",
            Rfa::Rfa9 => "bankid-rfa9",
            Rfa::Rfa13 => "bankid-rfa13",
            Rfa::Rfa15A => "bankid-rfa15a",
            Rfa::Rfa15B => "bankid-rfa15b",
            Rfa::Rfa16 => "bankid-rfa16",
            Rfa::Rfa17A => "bankid-rfa17a",
            Rfa::Rfa17B => "bankid-rfa17b",
            Rfa::Rfa19 => "bankid-rfa19",
            Rfa::Rfa20 => "bankid-rfa20",
            Rfa::Rfa21 => "bankid-rfa21",
            Rfa::Rfa22 => "bankid-rfa22",
            Rfa::Rfa23 => "bankid-rfa23",
            Rfa::ConfirmCall => "bankid-confirm-call",
            Rfa::UpdateApp => "bankid-update-app",
        }
    }

    /// BankID's id (`RFA15A`), or `None` for our own messages. For logs and metrics.
    pub fn bankid_id(self) -> Option<&'static str> {
        Some(match self {
            Rfa::Rfa1 => "RFA1",
            Rfa::Rfa2 => "RFA2",
            Rfa::Rfa3 => "RFA3",
            Rfa::Rfa4 => "RFA4",
            Rfa::Rfa5 => "RFA5",
            Rfa::Rfa6 => "RFA6",
            Rfa::Rfa8 => "RFA8",
            Rfa::Rfa9 => "RFA9",
            Rfa::Rfa13 => "RFA13",
            Rfa::Rfa15A => "RFA15A",
            Rfa::Rfa15B => "RFA15B",
            Rfa::Rfa16 => "RFA16",
            Rfa::Rfa17A => "RFA17A",
            Rfa::Rfa17B => "RFA17B",
            Rfa::Rfa19 => "RFA19",
            Rfa::Rfa20 => "RFA20",
            Rfa::Rfa21 => "RFA21",
            Rfa::Rfa22 => "RFA22",
            Rfa::Rfa23 => "RFA23",
            Rfa::ConfirmCall | Rfa::UpdateApp => return None,
        })
    }
}

/// The message while collect answers `pending` with `hint` (exact, case-sensitive hint code).
/// `mobile`: the browser runs on a phone or tablet (decides RFA15A or RFA15B). Unknown hints,
/// `processing` included, give RFA21.
pub fn pending_message(hint: &str, flow: FlowKind, mobile: bool) -> Rfa {
    match hint {
        "outstandingTransaction" => match flow {
            FlowKind::Qr => Rfa::Rfa1,
            FlowKind::AutoStart => Rfa::Rfa13,
        },
        "noClient" => Rfa::Rfa1,
        "started" if mobile => Rfa::Rfa15B,
        "started" => Rfa::Rfa15A,
        "userMrtd" => Rfa::Rfa23,
        "userSign" => Rfa::Rfa9,
        "userCallConfirm" => Rfa::ConfirmCall,
        _ => Rfa::Rfa21,
    }
}

/// The message when collect answers `failed` with `hint`. Unknown hints give RFA22.
pub fn failed_message(hint: &str, flow: FlowKind) -> Rfa {
    match hint {
        "expiredTransaction" => Rfa::Rfa8,
        "certificateErr" => Rfa::Rfa16,
        "userCancel" => Rfa::Rfa6,
        "cancelled" => Rfa::Rfa3,
        "startFailed" => match flow {
            FlowKind::Qr => Rfa::Rfa17B,
            FlowKind::AutoStart => Rfa::Rfa17A,
        },
        "userDeclinedCall" => Rfa::Rfa6,
        "notSupportedByUserApp" => Rfa::UpdateApp,
        // "transactionRiskBlocked" and anything unknown.
        _ => Rfa::Rfa22,
    }
}

/// A pseudo error code for "no usable answer from BankID" (connection, TLS, timeout), for
/// callers that only have a code: `error_message(TRANSPORT_FAILURE)` is RFA5.
pub const TRANSPORT_FAILURE: &str = "transportFailure";

/// The message for an RP API `errorCode`. BankID's own trouble (timeouts, internal error,
/// maintenance, rate limits) and [`TRANSPORT_FAILURE`] give RFA5; our own mistakes
/// (`invalidParameters`, `unauthorized`, …) and unknown codes give the generic RFA22.
pub fn error_message(error_code: &str) -> Rfa {
    match error_code {
        error_codes::ALREADY_IN_PROGRESS => Rfa::Rfa4,
        error_codes::REQUEST_TIMEOUT
        | error_codes::INTERNAL_ERROR
        | error_codes::MAINTENANCE
        | error_codes::TOO_MANY_REQUESTS
        | TRANSPORT_FAILURE => Rfa::Rfa5,
        _ => Rfa::Rfa22,
    }
}

/// The message for a failed client call: API errors by their code, transport failures RFA5,
/// everything else (unexpected answers, refused requests, configuration) RFA22.
pub fn client_error_message(error: &BankIdError) -> Rfa {
    match error {
        BankIdError::Api { error_code, .. } => error_message(error_code),
        BankIdError::Transport(_) => Rfa::Rfa5,
        BankIdError::InvalidResponse(_)
        | BankIdError::InvalidRequest(_)
        | BankIdError::Config(_) => Rfa::Rfa22,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::i18n::Catalogs;
    use std::collections::HashSet;

    use FlowKind::{AutoStart, Qr};

    #[test]
    fn pending_hints_map_as_the_spec_table_says() {
        // (hint, QR, autostart), desktop browser.
        let table = [
            ("outstandingTransaction", Rfa::Rfa1, Rfa::Rfa13),
            ("noClient", Rfa::Rfa1, Rfa::Rfa1),
            ("started", Rfa::Rfa15A, Rfa::Rfa15A),
            ("userMrtd", Rfa::Rfa23, Rfa::Rfa23),
            ("userSign", Rfa::Rfa9, Rfa::Rfa9),
            ("userCallConfirm", Rfa::ConfirmCall, Rfa::ConfirmCall),
            ("processing", Rfa::Rfa21, Rfa::Rfa21),
            ("somethingNew", Rfa::Rfa21, Rfa::Rfa21),
            ("", Rfa::Rfa21, Rfa::Rfa21),
            ("UserSign", Rfa::Rfa21, Rfa::Rfa21),
        ];
        for (hint, qr, auto) in table {
            assert_eq!(pending_message(hint, Qr, false), qr, "{hint} QR");
            assert_eq!(
                pending_message(hint, AutoStart, false),
                auto,
                "{hint} autostart"
            );
        }
        // Mobile browsers differ only for `started`.
        for (hint, _, _) in table {
            for flow in [Qr, AutoStart] {
                let expected = if hint == "started" {
                    Rfa::Rfa15B
                } else {
                    pending_message(hint, flow, false)
                };
                assert_eq!(pending_message(hint, flow, true), expected, "{hint} mobile");
            }
        }
    }

    #[test]
    fn failed_hints_map_as_the_spec_table_says() {
        let table = [
            ("expiredTransaction", Rfa::Rfa8, Rfa::Rfa8),
            ("certificateErr", Rfa::Rfa16, Rfa::Rfa16),
            ("userCancel", Rfa::Rfa6, Rfa::Rfa6),
            ("cancelled", Rfa::Rfa3, Rfa::Rfa3),
            ("startFailed", Rfa::Rfa17B, Rfa::Rfa17A),
            ("userDeclinedCall", Rfa::Rfa6, Rfa::Rfa6),
            ("notSupportedByUserApp", Rfa::UpdateApp, Rfa::UpdateApp),
            ("transactionRiskBlocked", Rfa::Rfa22, Rfa::Rfa22),
            ("somethingNew", Rfa::Rfa22, Rfa::Rfa22),
            ("", Rfa::Rfa22, Rfa::Rfa22),
        ];
        for (hint, qr, auto) in table {
            assert_eq!(failed_message(hint, Qr), qr, "{hint} QR");
            assert_eq!(failed_message(hint, AutoStart), auto, "{hint} autostart");
        }
    }

    #[test]
    fn error_codes_map_as_the_spec_table_says() {
        let table = [
            ("alreadyInProgress", Rfa::Rfa4),
            ("requestTimeout", Rfa::Rfa5),
            ("internalError", Rfa::Rfa5),
            ("maintenance", Rfa::Rfa5),
            ("tooManyRequests", Rfa::Rfa5),
            (TRANSPORT_FAILURE, Rfa::Rfa5),
            ("invalidParameters", Rfa::Rfa22),
            ("unauthorized", Rfa::Rfa22),
            ("notFound", Rfa::Rfa22),
            ("methodNotAllowed", Rfa::Rfa22),
            ("unsupportedMediaType", Rfa::Rfa22),
            ("unknown", Rfa::Rfa22),
            ("somethingNew", Rfa::Rfa22),
        ];
        for (code, rfa) in table {
            assert_eq!(error_message(code), rfa, "{code}");
        }
    }

    #[test]
    fn client_errors() {
        let api = |code: &str| BankIdError::Api {
            status: 400,
            error_code: code.into(),
            details: String::new(),
        };
        assert_eq!(client_error_message(&api("alreadyInProgress")), Rfa::Rfa4);
        assert_eq!(client_error_message(&api("maintenance")), Rfa::Rfa5);
        assert_eq!(client_error_message(&api("invalidParameters")), Rfa::Rfa22);
        assert_eq!(
            client_error_message(&BankIdError::Transport("reset".into())),
            Rfa::Rfa5
        );
        assert_eq!(
            client_error_message(&BankIdError::InvalidResponse("x".into())),
            Rfa::Rfa22
        );
        assert_eq!(
            client_error_message(&BankIdError::InvalidRequest("x".into())),
            Rfa::Rfa22
        );
        assert_eq!(
            client_error_message(&BankIdError::Config("x".into())),
            Rfa::Rfa22
        );
    }

    #[test]
    fn hint_codes_of_the_api_types_match() {
        use crate::bankid::api::HintCode;
        for hint in [
            "outstandingTransaction",
            "started",
            "userCallConfirm",
            "startFailed",
            "notSupportedByUserApp",
        ] {
            let parsed = HintCode::from(hint);
            assert_eq!(parsed.as_str(), hint);
        }
    }

    #[test]
    fn keys_and_ids_are_distinct() {
        let keys: HashSet<_> = Rfa::ALL.iter().map(|r| r.message_key()).collect();
        assert_eq!(keys.len(), Rfa::ALL.len());
        let ids: Vec<_> = Rfa::ALL.iter().filter_map(|r| r.bankid_id()).collect();
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
        assert_eq!(ids.len(), 19);
        for r in Rfa::ALL {
            if let Some(id) = r.bankid_id() {
                assert_eq!(
                    r.message_key(),
                    format!("bankid-{}", id.to_ascii_lowercase())
                );
            }
        }
    }

    #[test]
    fn every_message_key_is_translated() {
        let mut catalogs = Catalogs::default();
        catalogs
            .add_ftl("sv", include_str!("../../templates/locales/sv/main.ftl"))
            .unwrap();
        catalogs
            .add_ftl("en", include_str!("../../templates/locales/en/main.ftl"))
            .unwrap();
        for locale in ["sv", "en"] {
            let keys: HashSet<String> = catalogs.keys(locale).into_iter().collect();
            for rfa in Rfa::ALL {
                assert!(
                    keys.contains(rfa.message_key()),
                    "{locale}: {}",
                    rfa.message_key()
                );
                assert!(!catalogs.get(locale, rfa.message_key(), &[]).is_empty());
            }
            assert!(
                keys.contains("bankid-qr-label"),
                "{locale}: bankid-qr-label"
            );
        }
        // Swedish and English are not mixed up, and BankID's typos are fixed.
        assert_eq!(
            catalogs.get("sv", "bankid-rfa1", &[]),
            "Starta BankID-appen."
        );
        assert_eq!(
            catalogs.get("en", "bankid-rfa1", &[]),
            "Start your BankID app."
        );
        assert!(catalogs.get("sv", "bankid-rfa15b", &[]).contains("giltigt"));
        assert!(
            catalogs
                .get("en", "bankid-rfa23", &[])
                .contains("your ID document")
        );
        assert_eq!(
            catalogs.get("sv", "bankid-update-app", &[]),
            "Uppdatera BankID-appen och försök igen."
        );
    }
}
