//! The logins of the last seven days, hour by hour, for the console's overview: counted by the
//! database from the audit trail, every hour present (zero when nobody logged in).

use crate::clock::UnixTime;
use crate::state::AppState;
use crate::store::HourlyLogins;

use super::AdminError;

/// Seven days of hours, the current one last.
pub const HOURS: usize = 7 * 24;

/// The hours, oldest first, ending with the one `state.clock` is in.
pub async fn last_week(state: &AppState) -> Result<Vec<HourlyLogins>, AdminError> {
    let until = (state.clock.now().div_euclid(3600) + 1) * 3600;
    let since = until - HOURS as i64 * 3600;
    let counted = state.store.hourly_logins(since, until).await?;
    Ok(every_hour(since, HOURS, &counted))
}

/// `hours` hours from `since`, with the counts of `counted` (hours with logins) and zero in the
/// others.
pub fn every_hour(since: UnixTime, hours: usize, counted: &[HourlyLogins]) -> Vec<HourlyLogins> {
    (0..hours as i64)
        .map(|n| {
            let hour = since + n * 3600;
            counted
                .iter()
                .find(|c| c.hour == hour)
                .copied()
                .unwrap_or(HourlyLogins {
                    hour,
                    ..Default::default()
                })
        })
        .collect()
}

/// Every hour's counts added up.
pub fn total(hours: &[HourlyLogins]) -> HourlyLogins {
    hours
        .iter()
        .fold(HourlyLogins::default(), |sum, h| HourlyLogins {
            hour: sum.hour,
            password: sum.password + h.password,
            bankid: sum.bankid + h.bankid,
            failed: sum.failed + h.failed,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_without_logins_are_zero() {
        let counted = [
            HourlyLogins {
                hour: 3600,
                password: 2,
                bankid: 1,
                failed: 0,
            },
            HourlyLogins {
                hour: 4 * 3600,
                password: 0,
                bankid: 0,
                failed: 3,
            },
        ];
        let hours = every_hour(0, 5, &counted);
        assert_eq!(
            hours.iter().map(|h| h.hour).collect::<Vec<_>>(),
            [0, 3600, 7200, 10_800, 14_400]
        );
        assert_eq!(hours[1], counted[0]);
        assert_eq!(hours[4], counted[1]);
        assert_eq!(
            hours[2],
            HourlyLogins {
                hour: 7200,
                ..Default::default()
            }
        );
        assert_eq!(
            total(&hours),
            HourlyLogins {
                hour: 0,
                password: 2,
                bankid: 1,
                failed: 3
            }
        );
    }
}
