//! The background work every instance runs, each a queue in the database worked by the one job
//! worker (`jobs`): the email outbox, back-channel logout deliveries, and the `jobs` table.

pub mod backchannel;
pub mod background;
pub mod email;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppState;

/// Starts every worker; they stop when `stop` changes.
pub fn spawn_all(state: &Arc<AppState>, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(email::run_sender(state.clone(), stop.clone())),
        tokio::spawn(backchannel::run_sender(state.clone(), stop.clone())),
        tokio::spawn(background::run(state.clone(), stop.clone())),
    ]
}
