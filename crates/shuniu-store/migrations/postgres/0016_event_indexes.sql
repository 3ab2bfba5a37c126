-- Lists newest first under one filter walk an index in order and stop at the page's end,
-- instead of sorting every match (a million events: milliseconds, not a second); and the
-- duplicate check reads only the last day's events of one kind in one district.
CREATE INDEX events_state_reported ON events(state, reported_at);
CREATE INDEX events_district_reported ON events(district, reported_at);
CREATE INDEX events_category_reported ON events(category, reported_at);
CREATE INDEX events_department_reported ON events(department, reported_at);
CREATE INDEX events_kind_recent ON events(category, district, reported_at);
DROP INDEX events_district;
