//! Gathers the hub's own figures from every engine, once a day, for the built-in indicators
//! (`shuniu_indicators::figures`). This is the one place that reads them all: the server is
//! where the engines meet.

use chrono::{Duration, FixedOffset, NaiveDate, Utc};
use shuniu_indicators::HubFigure;
use shuniu_types::Actor;

use crate::Engines;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Today in Beijing: the day a recording is for.
pub fn today() -> NaiveDate {
    let beijing = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| {
        FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!("a zero offset is valid"))
    });
    Utc::now().with_timezone(&beijing).date_naive()
}

impl Engines {
    /// Every figure of the hub as it stands now: the whole hub, and by department or district
    /// where the figure has parts.
    pub async fn hub_figures(&self) -> Result<Vec<HubFigure>, Error> {
        let root = Actor::local_operator();
        let mut out = Vec::new();
        let part = |figure: &'static str, department: &str, district: &str, value: f64| HubFigure {
            figure,
            department: department.to_string(),
            district: district.to_string(),
            value,
        };
        // The catalog.
        let published = self
            .catalog
            .list(shuniu_catalog::ListKind::Aggregation)
            .await?;
        out.push(HubFigure::city("catalog.resources", published.len() as f64));
        out.push(HubFigure::city(
            "catalog.data_items",
            published
                .iter()
                .map(|r| r.spec.data_items.len())
                .sum::<usize>() as f64,
        ));
        let mut by_provider: std::collections::BTreeMap<&str, usize> = Default::default();
        for r in &published {
            *by_provider.entry(r.spec.provider.as_str()).or_default() += 1;
        }
        for (d, n) in by_provider {
            out.push(part("catalog.resources", d, "", n as f64));
        }
        // Aggregation over the last 30 days.
        let since = (Utc::now() - Duration::days(30)).to_rfc3339();
        let volume = self.aggregation.volume(&since).await?;
        out.push(HubFigure::city(
            "aggregation.loads_30d",
            volume.iter().map(|v| v.1).sum::<i64>() as f64,
        ));
        out.push(HubFigure::city(
            "aggregation.rows_30d",
            volume.iter().map(|v| v.2).sum::<i64>() as f64,
        ));
        for (d, loads, rows) in &volume {
            out.push(part("aggregation.loads_30d", d, "", *loads as f64));
            out.push(part("aggregation.rows_30d", d, "", *rows as f64));
        }
        // Sharing.
        let sharing = self.sharing.stats().await?;
        if let Some(rate) = sharing.satisfaction_rate {
            out.push(HubFigure::city("sharing.demand_satisfaction", rate));
        }
        out.push(HubFigure::city(
            "sharing.grants_active",
            sharing.grants_active as f64,
        ));
        out.push(HubFigure::city(
            "sharing.requests_overdue",
            sharing.requests_overdue as f64,
        ));
        if let Some(share) = sharing.unified_share {
            out.push(HubFigure::city("sharing.unified_share", share));
        }
        // Quality.
        let quality = self.quality.overview(&root).await?;
        if let Some(score) = quality.city_score {
            out.push(HubFigure::city("quality.city_score", score));
        }
        out.push(HubFigure::city(
            "quality.open_tickets",
            quality.open_tickets as f64,
        ));
        for d in &quality.departments {
            out.push(part("quality.city_score", &d.department, "", d.score));
            out.push(part(
                "quality.open_tickets",
                &d.department,
                "",
                d.open_tickets as f64,
            ));
        }
        // Open data.
        let snapshot = self.open.snapshot();
        out.push(HubFigure::city(
            "open.datasets",
            snapshot.packages.len() as f64,
        ));
        let (mut downloads, mut calls) = (0i64, 0i64);
        for p in &snapshot.packages {
            let c = self.open.counters(&p.code);
            downloads += c.downloads;
            calls += c.api_calls;
        }
        out.push(HubFigure::city("open.downloads", downloads as f64));
        out.push(HubFigure::city("open.api_calls", calls as f64));
        // City events: open now, and closure over the last 30 days.
        let open = self.events.open_counts(&root).await?;
        out.push(HubFigure::city(
            "events.open",
            open.iter().map(|c| c.1).sum::<i64>() as f64,
        ));
        out.push(HubFigure::city(
            "events.overdue",
            open.iter().map(|c| c.2).sum::<i64>() as f64,
        ));
        let now = Utc::now();
        let stats = self
            .events
            .statistics(&root, now - Duration::days(30), now)
            .await?;
        let tallies = std::iter::once(("", &stats.total))
            .chain(stats.by_district.iter().map(|t| (t.key.as_str(), t)))
            // Events filed for the city as a whole are in the city's tally only.
            .filter(|(d, _)| *d != shuniu_events::model::CITY_DIVISION);
        for (district, t) in tallies {
            if let Some(rate) = t.on_time_rate {
                out.push(part("events.on_time_rate", "", district, rate * 100.0));
            }
            if let Some(s) = t.satisfaction {
                out.push(part("events.satisfaction", "", district, s));
            }
        }
        // A part without a key (loads by the command line, which acts for no department;
        // events with no district) is in the whole's figure only: the whole is the row whose
        // keys are both empty.
        let mut seen = std::collections::BTreeSet::new();
        out.retain(|f| seen.insert((f.figure, f.department.clone(), f.district.clone())));
        Ok(out)
    }

    /// Records today's figures if they are not recorded yet; `true` when it recorded them.
    pub async fn record_hub_figures(&self) -> Result<bool, Error> {
        let day = today();
        if self
            .indicators
            .figures_recorded_through()
            .await?
            .is_some_and(|d| d >= day)
        {
            return Ok(false);
        }
        let figures = self.hub_figures().await?;
        Ok(self
            .indicators
            .record_figures(&Actor::local_operator(), day, &figures)
            .await?)
    }
}
