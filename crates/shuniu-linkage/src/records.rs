//! The records of one source, column by column, with their identifiers.

use crate::LinkError;

/// The records of one source: an identifier per record and the values of each column.
#[derive(Debug, Clone, Default)]
pub struct Records {
    ids: Vec<Box<str>>,
    columns: Vec<String>,
    values: Vec<Vec<Option<Box<str>>>>,
}

impl Records {
    /// Empty records with these columns (the identifier column not among them).
    pub fn new(columns: Vec<String>) -> Records {
        let values = columns.iter().map(|_| Vec::new()).collect();
        Records {
            ids: Vec::new(),
            columns,
            values,
        }
    }

    /// Adds a record; `values` in the order of the columns, missing ones `None`.
    pub fn push(&mut self, id: &str, values: &[Option<&str>]) -> Result<(), LinkError> {
        if id.trim().is_empty() {
            return Err(LinkError::Input {
                code: "LINK_ID_MISSING",
                zh: format!("第 {} 条记录没有标识", self.ids.len() + 1),
                en: format!("record {} has no identifier", self.ids.len() + 1),
            });
        }
        self.ids.push(id.trim().into());
        for (ci, col) in self.values.iter_mut().enumerate() {
            let v = values
                .get(ci)
                .copied()
                .flatten()
                .map(str::trim)
                .filter(|v| !v.is_empty());
            col.push(v.map(Into::into));
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
    pub fn id(&self, row: usize) -> &str {
        self.ids.get(row).map(|s| &**s).unwrap_or("")
    }
    pub fn value(&self, column: usize, row: usize) -> Option<&str> {
        self.values.get(column)?.get(row)?.as_deref()
    }
    /// The values of one column, in record order.
    pub fn column(&self, column: usize) -> impl Iterator<Item = Option<&str>> {
        self.values
            .get(column)
            .into_iter()
            .flatten()
            .map(|v| v.as_deref())
    }
}
