//! Typed access to one TOML table of a model file, with messages that name
//! the table, the field and what it accepts.

/// One table (the file, `[optimizer]` or one `[[layers]]` entry).
pub(super) struct Fields<'a> {
    table: &'a toml::Table,
    ctx: String,
}

impl<'a> Fields<'a> {
    /// Refuses a key outside `allowed`, naming the table and the keys it
    /// takes.
    pub fn new(table: &'a toml::Table, ctx: String, allowed: &[&str]) -> Result<Self, String> {
        if let Some(k) = table.keys().find(|k| !allowed.contains(&k.as_str())) {
            let own: Vec<&str> = allowed.iter().copied().filter(|a| *a != "type").collect();
            return Err(format!(
                "{ctx}: unknown field `{k}`; allowed: {}",
                if own.is_empty() {
                    "none besides type".to_string()
                } else {
                    own.join(", ")
                }
            ));
        }
        Ok(Fields { table, ctx })
    }

    /// What messages call this table.
    pub fn ctx(&self) -> &str {
        &self.ctx
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.wrong(key, "true or false", v)),
        }
    }

    fn wrong(&self, key: &str, want: &str, got: &toml::Value) -> String {
        format!("{}: field `{key}` must be {want}, got {got}", self.ctx)
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, String> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.wrong(key, "a string", v)),
        }
    }

    /// A required string; `allowed` lists its values for the message.
    pub fn req_str(&self, key: &str, allowed: &str) -> Result<&'a str, String> {
        self.opt_str(key)?
            .ok_or_else(|| format!("{}: missing field `{key}`; allowed: {allowed}", self.ctx))
    }

    /// An integer >= `min`, if present.
    pub fn opt_usize(&self, key: &str, min: usize) -> Result<Option<usize>, String> {
        let want = format!("an integer >= {min}");
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => match usize::try_from(*i) {
                Ok(n) if n >= min => Ok(Some(n)),
                _ => Err(format!(
                    "{}: field `{key}` must be {want}, got {i}",
                    self.ctx
                )),
            },
            Some(v) => Err(self.wrong(key, &want, v)),
        }
    }

    pub fn req_usize(&self, key: &str, min: usize) -> Result<usize, String> {
        self.opt_usize(key, min)?
            .ok_or_else(|| format!("{}: missing field `{key}` (an integer >= {min})", self.ctx))
    }

    /// A finite number (an integer is taken as one), if present.
    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>, String> {
        let v = match self.table.get(key) {
            None => return Ok(None),
            Some(toml::Value::Float(f)) => *f,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(v) => return Err(self.wrong(key, "a number", v)),
        };
        let f = v as f32;
        if !f.is_finite() {
            return Err(format!(
                "{}: field `{key}` must be a finite number, got {v}",
                self.ctx
            ));
        }
        Ok(Some(f))
    }

    pub fn req_f32(&self, key: &str) -> Result<f32, String> {
        self.opt_f32(key)?
            .ok_or_else(|| format!("{}: missing field `{key}` (a number)", self.ctx))
    }

    /// An array of integers >= 1, if present.
    pub fn opt_usize_list(&self, key: &str) -> Result<Option<Vec<usize>>, String> {
        let want = "an array of integers >= 1, e.g. [28, 28, 1]";
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    toml::Value::Integer(i) if *i >= 1 => usize::try_from(*i).ok(),
                    _ => None,
                })
                .collect::<Option<Vec<usize>>>()
                .map(Some)
                .ok_or_else(|| {
                    format!(
                        "{}: field `{key}` must be {want}, got {}",
                        self.ctx,
                        toml::Value::Array(a.clone())
                    )
                }),
            Some(v) => Err(self.wrong(key, want, v)),
        }
    }

    pub fn opt_table(&self, key: &str) -> Result<Option<&'a toml::Table>, String> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Table(t)) => Ok(Some(t)),
            Some(v) => Err(self.wrong(key, &format!("a table ([{key}])"), v)),
        }
    }

    /// A required array of tables (`[[key]]` entries).
    pub fn req_tables(&self, key: &str, want: &str) -> Result<Vec<&'a toml::Table>, String> {
        match self.table.get(key) {
            None => Err(format!("{}: missing `{key}`: {want}", self.ctx)),
            Some(toml::Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_table()
                        .ok_or_else(|| format!("{key}[{i}] must be a table: {want}"))
                })
                .collect(),
            Some(v) => Err(self.wrong(key, want, v)),
        }
    }
}
