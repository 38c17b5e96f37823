//! The overview's bar chart, laid out on the server: one bar per minute,
//! drawn by the template as SVG.

use crate::format;

/// The chart's drawing area, in SVG units.
pub(crate) const WIDTH: u32 = 720;
pub(crate) const HEIGHT: u32 = 140;

/// One bar: its box and its tooltip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bar {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) title: String,
}

/// The bars, the largest count (the scale) and the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chart {
    pub(crate) bars: Vec<Bar>,
    pub(crate) max: u64,
    pub(crate) total: u64,
    pub(crate) first_label: String,
    pub(crate) last_label: String,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Chart {
    /// Bars for `counts`, the first window starting at `start_ms`, each `width_ms` wide.
    pub(crate) fn new(counts: &[u64], start_ms: i64, width_ms: i64) -> Self {
        let max = counts.iter().copied().max().unwrap_or(0);
        let slot = WIDTH
            / u32::try_from(counts.len().max(1))
                .unwrap_or(u32::MAX)
                .max(1);
        let bars = counts
            .iter()
            .enumerate()
            .map(|(n, &count)| {
                let height = if max == 0 {
                    0
                } else {
                    // At least one unit high, so that a single delivery shows.
                    ((count * u64::from(HEIGHT)).div_ceil(max)).min(u64::from(HEIGHT)) as u32
                };
                let at = start_ms + width_ms * n as i64;
                Bar {
                    x: slot * n as u32 + 1,
                    y: HEIGHT - height,
                    width: slot.saturating_sub(2).max(1),
                    height,
                    title: format!("{} UTC: {count}", format::clock(at)),
                }
            })
            .collect();
        Self {
            bars,
            max,
            total: counts.iter().sum(),
            first_label: format::clock(start_ms),
            last_label: format::clock(start_ms + width_ms * counts.len() as i64),
            width: WIDTH,
            height: HEIGHT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_count_fills_the_height_and_zero_draws_nothing() {
        let chart = Chart::new(&[0, 5, 10], 0, 60_000);
        assert_eq!(chart.max, 10);
        assert_eq!(chart.total, 15);
        assert_eq!(chart.bars[0].height, 0);
        assert_eq!(chart.bars[1].height, HEIGHT / 2);
        assert_eq!(chart.bars[2].height, HEIGHT);
        assert_eq!(chart.bars[2].y, 0);
        assert_eq!(chart.bars[1].title, "00:01 UTC: 5");
    }

    #[test]
    fn an_empty_hour_has_flat_bars() {
        let chart = Chart::new(&[0; 60], 0, 60_000);
        assert!(chart.bars.iter().all(|bar| bar.height == 0));
        assert_eq!(chart.bars.len(), 60);
    }
}
