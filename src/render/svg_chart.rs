//! A line chart of hourly counts as inline SVG, drawn on the server: no script, no `style`
//! attributes (the pages' CSP allows neither), only classes that `static/style.css` styles. The
//! days are marked at midnight in Swedish time, like every time in the console.

use std::fmt::Write as _;

use crate::clock::UnixTime;

use super::activity::{sweden_offset_secs, swedish_time};

/// The drawing's coordinate system; the page scales it to its width.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 28.0;
/// A day shorter than this many hours at either end gets no date under it (it would not fit).
const MIN_LABELLED_HOURS: usize = 6;

/// One line: its values, an hour each, and the class that styles it (`series-{class}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub class: &'static str,
    pub values: Vec<i64>,
}

/// What to draw: `series` from the hour starting at `start`, and the texts that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyChart<'a> {
    /// Makes the ids of the title and description unique on the page.
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub start: UnixTime,
    pub series: &'a [Series],
}

impl HourlyChart<'_> {
    fn hours(&self) -> usize {
        self.series
            .iter()
            .map(|s| s.values.len())
            .max()
            .unwrap_or(0)
    }

    fn x(&self, hour: f64) -> f64 {
        LEFT + hour * (WIDTH - LEFT - RIGHT) / self.hours().max(1) as f64
    }

    fn y(value: i64, top: i64) -> f64 {
        let plot = HEIGHT - TOP - BOTTOM;
        HEIGHT - BOTTOM - value as f64 * plot / top.max(1) as f64
    }

    /// The SVG element, ready to be placed in a page as it is.
    pub fn render(&self) -> String {
        let max = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .max()
            .unwrap_or(0);
        let (step, top) = y_scale(max);
        let id = escape(self.id);
        let mut svg = String::new();
        // Writing to a String cannot fail.
        let _ = write!(
            svg,
            r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title {id}-desc" focusable="false" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
            escape(self.title),
            escape(self.description),
        );
        let (x0, x1) = (self.x(0.0), self.x(self.hours() as f64));
        let mut tick = 0;
        while tick <= top {
            let y = Self::y(tick, top);
            let _ = write!(
                svg,
                r#"<line class="chart-grid" x1="{x0:.1}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}"/><text class="chart-tick chart-tick-y" x="{:.1}" y="{:.1}">{tick}</text>"#,
                x0 - 4.0,
                y + 4.0,
            );
            tick += step;
        }
        let bottom = HEIGHT - BOTTOM;
        for day in days(self.start, self.hours()) {
            if day.from > 0 {
                let x = self.x(day.from as f64);
                let _ = write!(
                    svg,
                    r#"<line class="chart-day" x1="{x:.1}" y1="{TOP:.1}" x2="{x:.1}" y2="{:.1}"/>"#,
                    bottom + 6.0,
                );
            }
            if day.to - day.from >= MIN_LABELLED_HOURS {
                let _ = write!(
                    svg,
                    r#"<text class="chart-tick chart-tick-x" x="{:.1}" y="{:.1}">{}</text>"#,
                    self.x((day.from + day.to) as f64 / 2.0),
                    HEIGHT - 8.0,
                    escape(&day.date),
                );
            }
        }
        for series in self.series {
            let points: Vec<String> = series
                .values
                .iter()
                .enumerate()
                .map(|(hour, value)| {
                    format!(
                        "{:.1},{:.1}",
                        self.x(hour as f64 + 0.5),
                        Self::y(*value, top)
                    )
                })
                .collect();
            let _ = write!(
                svg,
                r#"<polyline class="chart-line series-{}" points="{}"/>"#,
                escape(series.class),
                points.join(" "),
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

/// The step between the value axis' ticks (1, 2 or 5 times a power of ten) and its top, a
/// multiple of the step at or above `max`: at most five steps.
fn y_scale(max: i64) -> (i64, i64) {
    let max = max.max(1);
    let mut magnitude = 1;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * magnitude;
            if max <= 5 * step {
                return (step, (max + step - 1) / step * step);
            }
        }
        magnitude *= 10;
    }
}

/// The part of one Swedish calendar day on the chart: hours `from..to` of it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Day {
    from: usize,
    to: usize,
    /// `YYYY-MM-DD`.
    date: String,
}

/// The days the `hours` hours from `start` fall on, split at Swedish midnight.
fn days(start: UnixTime, hours: usize) -> Vec<Day> {
    let mut days: Vec<Day> = Vec::new();
    for hour in 0..hours {
        let at = start + hour as i64 * 3600;
        let date = swedish_time(at).chars().take(10).collect::<String>();
        let local_midnight = (at + sweden_offset_secs(at)).rem_euclid(86_400) == 0;
        match days.last_mut() {
            Some(day) if !local_midnight => day.to = hour + 1,
            _ => days.push(Day {
                from: hour,
                to: hour + 1,
                date,
            }),
        }
    }
    days
}

/// Text for SVG markup, in an element or a quoted attribute.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-26 00:00 in Stockholm (23:00 UTC the day before, winter time).
    const THURSDAY_MIDNIGHT: UnixTime = 1_774_479_600;

    fn chart<'a>(series: &'a [Series], start: UnixTime) -> HourlyChart<'a> {
        HourlyChart {
            id: "logins",
            title: "Logins",
            description: "Per hour",
            start,
            series,
        }
    }

    /// The values of attribute `name` on every `element`, in order.
    fn attributes(svg: &str, element: &str, name: &str) -> Vec<String> {
        svg.split(&format!("<{element} "))
            .skip(1)
            .map(|rest| format!(" {rest}"))
            .filter_map(|rest| {
                let start = rest.find(&format!(" {name}=\""))? + name.len() + 3;
                let end = start + rest[start..].find('"')?;
                Some(rest[start..end].to_string())
            })
            .collect()
    }

    fn texts(svg: &str, class: &str) -> Vec<String> {
        svg.split(&format!(r#"<text class="chart-tick {class}""#))
            .skip(1)
            .filter_map(|rest| {
                let start = rest.find('>')? + 1;
                let end = rest.find("</text>")?;
                Some(rest[start..end].to_string())
            })
            .collect()
    }

    #[test]
    fn the_value_axis_is_a_round_number_of_round_steps() {
        assert_eq!(y_scale(0), (1, 1));
        assert_eq!(y_scale(1), (1, 1));
        assert_eq!(y_scale(5), (1, 5));
        assert_eq!(y_scale(6), (2, 6));
        assert_eq!(y_scale(11), (5, 15));
        assert_eq!(y_scale(26), (10, 30));
        assert_eq!(y_scale(1234), (500, 1500));
    }

    #[test]
    fn points_are_placed_by_hour_and_value() {
        let series = [
            Series {
                class: "password",
                values: vec![0, 4, 2, 0],
            },
            Series {
                class: "failed",
                values: vec![1, 0, 0, 0],
            },
        ];
        let svg = chart(&series, THURSDAY_MIDNIGHT + 6 * 3600).render();
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
        let lines = attributes(&svg, "polyline", "points");
        // Four hours over 672 units from x = 40 (168 each), each point in its hour's middle;
        // the top (4, five ticks of 1) at y = 10, zero at y = 212.
        assert_eq!(lines[0], "124.0,212.0 292.0,10.0 460.0,111.0 628.0,212.0");
        assert_eq!(lines[1], "124.0,161.5 292.0,212.0 460.0,212.0 628.0,212.0");
        assert_eq!(
            attributes(&svg, "polyline", "class"),
            ["chart-line series-password", "chart-line series-failed"]
        );
        assert_eq!(texts(&svg, "chart-tick-y"), ["0", "1", "2", "3", "4"]);
        // Nothing styled inline: the CSP would refuse it.
        assert!(!svg.contains("style="), "{svg}");
    }

    #[test]
    fn days_are_marked_at_swedish_midnight() {
        // Thursday 18:00 to Saturday 12:00, Swedish time.
        let start = THURSDAY_MIDNIGHT + 18 * 3600;
        let series = [Series {
            class: "bankid",
            values: vec![0; 42],
        }];
        let svg = chart(&series, start).render();
        // Midnight before Friday and before Saturday: after 6 and 30 of the 42 hours.
        assert_eq!(
            attributes(&svg, "line", "x1")
                .into_iter()
                .filter(|x| x != "40.0")
                .collect::<Vec<_>>(),
            ["136.0", "520.0"]
        );
        // Thursday's six hours get their date, as do Friday and Saturday's twelve.
        assert_eq!(
            texts(&svg, "chart-tick-x"),
            ["2026-03-26", "2026-03-27", "2026-03-28"]
        );
        // Five hours are too few for a date.
        let svg = chart(&series, start + 3600).render();
        assert_eq!(texts(&svg, "chart-tick-x"), ["2026-03-27", "2026-03-28"]);
    }

    #[test]
    fn summer_time_moves_midnight_an_hour() {
        // The night to Sunday 2026-03-29 turns the clocks forward at 02:00; the day after
        // starts at 22:00 UTC.
        let days = days(THURSDAY_MIDNIGHT + 3 * 24 * 3600, 47);
        assert_eq!(
            days,
            [
                Day {
                    from: 0,
                    to: 23,
                    date: "2026-03-29".into()
                },
                Day {
                    from: 23,
                    to: 47,
                    date: "2026-03-30".into()
                },
            ]
        );
    }

    #[test]
    fn texts_are_escaped() {
        let series = [Series {
            class: "password",
            values: vec![1],
        }];
        let svg = HourlyChart {
            id: "a\"b",
            title: "<script>alert(1)</script> & co",
            description: "it's \"quoted\"",
            start: THURSDAY_MIDNIGHT,
            series: &series,
        }
        .render();
        assert!(
            svg.contains(
                r#"<title id="a&quot;b-title">&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</title>"#
            ),
            "{svg}"
        );
        assert!(svg.contains("<desc id=\"a&quot;b-desc\">it&#39;s &quot;quoted&quot;</desc>"));
        assert!(!svg.contains("<script>"));
    }
}
