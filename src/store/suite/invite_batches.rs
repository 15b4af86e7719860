//! Bulk invitations: a file's batch stored whole, started once (with its job and audit event in
//! the same transaction), its rows worked through to an outcome, counted, finished, purged; and
//! the rows that name a person gone with them.

use super::*;

suite!(
    a_batch_is_stored_started_once_worked_through_and_finished,
    batches_are_purged_and_a_deleted_user_takes_their_rows,
);

fn batch(id: &str, created_at: UnixTime) -> InviteBatch {
    InviteBatch {
        id: id.into(),
        file_name: "kunder.csv".into(),
        uploaded_by: "u1".into(),
        started_by: None,
        status: "preview".into(),
        created_at,
        started_at: None,
        finished_at: None,
    }
}

fn row(batch_id: &str, line: i64, email: &str, problem: Option<&str>) -> InviteBatchRow {
    InviteBatchRow {
        batch_id: batch_id.into(),
        line,
        email: email.into(),
        name: format!("Kund {line}"),
        locale: "sv".into(),
        user_id: format!("planned-{line}"),
        outcome: if problem.is_some() {
            "refused"
        } else {
            "pending"
        }
        .into(),
        problem: problem.map(str::to_string),
        problem_line: None,
    }
}

fn job(id: &str) -> Job {
    Job {
        id: id.into(),
        kind: "invite_batch".into(),
        payload: vec![1],
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: NOW,
        locked_until: None,
        last_error: None,
        created_at: NOW,
        finished_at: None,
    }
}

async fn a_batch_is_stored_started_once_worked_through_and_finished(s: Arc<dyn Store>) {
    TWO_USERS.seed(&*s).await;
    let rows = [
        row("b1", 2, "ny@kund.se", None),
        row("b1", 3, "u2@example.se", None),
        row("b1", 4, "fel", Some("email")),
    ];
    s.insert_invite_batch(&batch("b1", NOW), &rows)
        .await
        .unwrap();
    assert_eq!(s.invite_batch("b1").await.unwrap(), Some(batch("b1", NOW)));
    assert_eq!(s.invite_batch_rows("b1").await.unwrap(), rows);
    assert_eq!(
        s.invite_batch_counts("b1").await.unwrap(),
        InviteBatchCounts {
            pending: 2,
            refused: 1,
            ..Default::default()
        }
    );
    // u2's address has an account already.
    assert_eq!(s.invite_batch_existing("b1").await.unwrap(), 1);

    let event = crate::audit::Event::new("invite_batch.started")
        .by(crate::audit::Actor::User("u1".into()))
        .at(NOW + 1);
    assert!(
        s.start_invite_batch(
            "b1",
            "u1",
            NOW + 1,
            &job("j1"),
            std::slice::from_ref(&event)
        )
        .await
        .unwrap()
    );
    // A second start writes nothing: no second job, no second event.
    assert!(
        !s.start_invite_batch("b1", "u1", NOW + 2, &job("j2"), &[event])
            .await
            .unwrap()
    );
    assert!(s.job("j1").await.unwrap().is_some());
    assert!(s.job("j2").await.unwrap().is_none());
    let query = AuditQuery {
        kind: Some("invite_batch.started".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(s.audit_events(&query).await.unwrap().len(), 1);
    let started = s.invite_batch("b1").await.unwrap().unwrap();
    assert_eq!(
        (
            started.status.as_str(),
            started.started_by.as_deref(),
            started.started_at
        ),
        ("running", Some("u1"), Some(NOW + 1))
    );

    let pending = s.pending_invite_rows("b1", 1).await.unwrap();
    assert_eq!(pending, [rows[0].clone()]);
    s.set_invite_row_outcome("b1", 2, "created", "planned-2")
        .await
        .unwrap();
    assert!(
        !s.finish_invite_batch("b1", NOW + 3).await.unwrap(),
        "a row is pending"
    );
    s.set_invite_row_outcome("b1", 3, "existed", "u2")
        .await
        .unwrap();
    // An outcome is recorded once.
    s.set_invite_row_outcome("b1", 3, "created", "x")
        .await
        .unwrap();
    assert!(s.pending_invite_rows("b1", 10).await.unwrap().is_empty());
    let rows = s.invite_batch_rows("b1").await.unwrap();
    assert_eq!(
        (rows[1].outcome.as_str(), rows[1].user_id.as_str()),
        ("existed", "u2")
    );
    assert_eq!(
        s.invite_batch_counts("b1").await.unwrap(),
        InviteBatchCounts {
            pending: 0,
            created: 1,
            existed: 1,
            refused: 1,
        }
    );
    assert!(s.finish_invite_batch("b1", NOW + 4).await.unwrap());
    let done = s.invite_batch("b1").await.unwrap().unwrap();
    assert_eq!(
        (done.status.as_str(), done.finished_at),
        ("done", Some(NOW + 4))
    );
}

async fn batches_are_purged_and_a_deleted_user_takes_their_rows(s: Arc<dyn Store>) {
    TWO_USERS.seed(&*s).await;
    s.insert_invite_batch(
        &batch("old", NOW - 100),
        &[row("old", 2, "a@kund.se", None)],
    )
    .await
    .unwrap();
    let mut by_id = row("new", 2, "someone@kund.se", None);
    by_id.user_id = "u1".into();
    s.insert_invite_batch(
        &batch("new", NOW),
        &[
            by_id,
            row("new", 3, "u2@example.se", None),
            row("new", 4, "c@kund.se", None),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        s.recent_invite_batches(10)
            .await
            .unwrap()
            .iter()
            .map(|b| b.id.as_str())
            .collect::<Vec<_>>(),
        ["new", "old"]
    );

    assert_eq!(s.purge_invite_batches(NOW - 50).await.unwrap(), 1);
    assert!(s.invite_batch("old").await.unwrap().is_none());
    assert!(s.invite_batch_rows("old").await.unwrap().is_empty());

    // Deleting u1 (named by id) and u2 (named by address) leaves only the stranger's row.
    s.delete_user("u1", "deleted-1", &[]).await.unwrap();
    s.delete_user("u2", "deleted-2", &[]).await.unwrap();
    let left = s.invite_batch_rows("new").await.unwrap();
    assert_eq!(left.iter().map(|r| r.line).collect::<Vec<_>>(), [4]);
}
