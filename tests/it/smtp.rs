//! The test SMTP server (`common::smtp`) against lettre's real client, and the email outbox
//! delivering through it.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::smtp::{ReceivedMail, TestSmtpServer, decode_encoded_words};
use leasify_id::clock::{ManualClock, OsEntropy};
use leasify_id::config::Config;
use leasify_id::jobs::Report;
use leasify_id::mail::transport::SmtpMailer;
use leasify_id::mail::{EmailMessage, MailError, Mailer};
use leasify_id::state::{Overrides, build_with_store};
use leasify_id::store::{SqliteStore, Store};
use leasify_id::workers::email::deliver_due;

fn mailer(port: u16) -> SmtpMailer {
    let mut config = Config::defaults().mail;
    config.smtp_host = "127.0.0.1".into();
    config.smtp_port = port;
    config.smtp_tls = "none".into();
    config.smtp_timeout = 5;
    SmtpMailer::from_config(&config).expect("mailer")
}

fn message() -> EmailMessage {
    EmailMessage {
        to: "asa@example.se".into(),
        to_name: "Åsa Öberg".into(),
        subject: "Välkommen – välj ditt lösenord".into(),
        text: "Hej Åsa, här är länken: https://id.example.se/password/set?token=abc\n".into(),
        html: "<p>Hej Åsa, <a href=\"https://id.example.se/x\">här</a> är länken.</p>".into(),
        locale: "sv".into(),
        action_link: None,
    }
}

#[tokio::test]
async fn lettre_delivers_a_multipart_message_with_swedish_text() {
    let server = TestSmtpServer::start().await;
    mailer(server.port())
        .send("Leasify <no-reply@leasify.se>", &message())
        .await
        .expect("sent");
    let mail = server
        .next_message(Duration::from_secs(5))
        .await
        .expect("a message");
    assert_eq!(mail.mail_from, "no-reply@leasify.se");
    assert_eq!(mail.subject(), "Välkommen – välj ditt lösenord");
    assert_eq!(mail.rcpt_to, vec!["asa@example.se".to_string()]);
    assert_eq!(
        decode_encoded_words(&mail.header("To").expect("To")),
        "Åsa Öberg <asa@example.se>"
    );
    assert_eq!(mail.text().trim_end(), message().text.trim_end());
    assert_eq!(mail.html().trim_end(), message().html);
    assert_eq!(
        mail.first_link().as_deref(),
        Some("https://id.example.se/password/set?token=abc")
    );
}

#[tokio::test]
async fn refusals_are_transient_then_permanent() {
    let server = TestSmtpServer::start().await;
    let mailer = mailer(server.port());
    server.set_refuse_next(1);
    assert!(matches!(
        mailer.send("a@leasify.se", &message()).await,
        Err(MailError::Transient(_))
    ));
    server.set_permanent_reject(true);
    assert!(matches!(
        mailer.send("a@leasify.se", &message()).await,
        Err(MailError::Permanent(_))
    ));
    server.set_permanent_reject(false);
    mailer
        .send("a@leasify.se", &message())
        .await
        .expect("accepted now");
    assert_eq!(server.received().len(), 1);
}

#[test]
fn decodes_base64_parts_and_single_part_messages() {
    let multipart = ReceivedMail {
        mail_from: "a@x.se".into(),
        rcpt_to: vec!["b@x.se".into()],
        data: "Subject: =?utf-8?q?=C3=85r?=\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
               --b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
               w6XDpMO2CmxhbmsgaHR0cDovL2xvY2FsaG9zdC94P2E9MSBzbHV0\r\n\
               --b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
               <p>hi</p>\r\n--b1--\r\n"
            .into(),
    };
    assert_eq!(multipart.subject(), "År");
    assert_eq!(multipart.text(), "åäö\nlank http://localhost/x?a=1 slut");
    assert_eq!(multipart.html(), "<p>hi</p>");
    assert_eq!(
        multipart.first_link().as_deref(),
        Some("http://localhost/x?a=1")
    );
    let single = ReceivedMail {
        mail_from: String::new(),
        rcpt_to: vec![],
        data: "Subject: plain\r\nContent-Type: text/plain\r\n\r\nno link\r\n".into(),
    };
    assert_eq!(single.text(), "no link");
    assert_eq!(single.first_link(), None);
    assert_eq!(single.html(), "");
}

#[test]
fn decodes_encoded_words_split_inside_a_character() {
    // "å" is C3 A5; split between two words, with folding whitespace between them.
    assert_eq!(
        decode_encoded_words("=?utf-8?b?w6Q=?= =?utf-8?q?l=C3?=\t=?utf-8?q?=A5g_x?="),
        "älåg x"
    );
    assert_eq!(
        decode_encoded_words("Hej =?utf-8?q?=C3=B6?= du"),
        "Hej ö du"
    );
    assert_eq!(decode_encoded_words("plain"), "plain");
}

#[tokio::test]
async fn the_outbox_delivers_exactly_once_after_refusals() {
    let server = TestSmtpServer::start().await;
    server.set_refuse_next(2);
    let mut config = Config::defaults();
    config.data_dir =
        std::env::temp_dir().join(format!("leasify-smtp-{}", uuid::Uuid::new_v4().simple()));
    config.mail.smtp_host = "127.0.0.1".into();
    config.mail.smtp_port = server.port();
    config.mail.smtp_tls = "none".into();
    config.mail.smtp_timeout = 5;
    let store = Arc::new(
        SqliteStore::connect("sqlite::memory:")
            .await
            .expect("store"),
    );
    store.migrate().await.expect("migrate");
    let clock = ManualClock::default();
    let overrides = Overrides {
        clock: Arc::new(clock.clone()),
        entropy: Arc::new(OsEntropy),
        mailer: Some(Arc::new(
            SmtpMailer::from_config(&config.mail).expect("mailer"),
        )),
        bankid: false,
    };
    let state = build_with_store(config, store, overrides)
        .await
        .expect("state");
    let email = leasify_id::account::emails::prepare_outbox(&state, "invite", &message());
    state.store.enqueue_email(&email).await.expect("enqueue");

    let base = state.config.mail.retry_base;
    assert_eq!(
        deliver_due(&state).await,
        Report {
            done: 0,
            retried: 1,
            failed: 0
        }
    );
    // Not again before the backoff has passed.
    clock.advance(base - 2);
    assert_eq!(deliver_due(&state).await, Report::default());
    clock.advance(2);
    assert_eq!(
        deliver_due(&state).await,
        Report {
            done: 0,
            retried: 1,
            failed: 0
        }
    );
    // The second retry waits twice as long.
    clock.advance(2 * base - 2);
    assert_eq!(deliver_due(&state).await, Report::default());
    clock.advance(2);
    assert_eq!(
        deliver_due(&state).await,
        Report {
            done: 1,
            retried: 0,
            failed: 0
        }
    );
    clock.advance(state.config.mail.retry_max);
    assert_eq!(deliver_due(&state).await, Report::default());

    let mail = server
        .next_message(Duration::from_secs(5))
        .await
        .expect("delivered");
    assert_eq!(mail.rcpt_to, vec!["asa@example.se".to_string()]);
    assert_eq!(mail.subject(), "Välkommen – välj ditt lösenord");
    assert_eq!(server.received().len(), 1, "delivered exactly once");
    let row = state
        .store
        .outbox_email(&email.id)
        .await
        .expect("row")
        .expect("exists");
    assert_eq!((row.status.as_str(), row.attempts), ("sent", 2));
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("451"),
        "{:?}",
        row.last_error
    );
    assert!(row.sealed_message.is_empty());
    let _ = std::fs::remove_dir_all(&state.config.data_dir);
}
