//! Strata of a peak set: cluster labels, ubiquitous vs cell type-specific, and bins of
//! specificity (how many tracks call a peak there).

/// Lower edges of specificity bins: `[1, 2, 4, 7]` gives `1`, `2-3`, `4-6`, `7+` (and `0`
/// for peaks no track calls).
pub const DEFAULT_SPECIFICITY_EDGES: [u32; 4] = [1, 2, 4, 7];

/// The named strata of one evaluation and how peaks map onto them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Strata {
    names: Vec<String>,
    labels: Vec<String>,
    ubiquitous: Vec<String>,
    edges: Vec<u32>,
    has_specificity: bool,
}

impl Strata {
    /// `labels`: the cluster labels present; `ubiquitous`: which of them are ubiquitous
    /// (empty: no ubiquitous/specific split); `edges`: specificity bin lower edges, used
    /// when `has_specificity`.
    pub fn new(labels: &[String], ubiquitous: &[String], edges: &[u32], has_specificity: bool) -> Self {
        let mut edges: Vec<u32> = edges.to_vec();
        edges.sort_unstable();
        edges.dedup();
        let mut names = vec!["all".to_string()];
        if !ubiquitous.is_empty() {
            names.push("ubiquitous".into());
            names.push("specific".into());
        }
        names.extend(labels.iter().map(|l| format!("cluster:{l}")));
        if has_specificity {
            names.push("spec:0".into());
            for (i, &lo) in edges.iter().enumerate() {
                names.push(match edges.get(i + 1) {
                    Some(&next) if next == lo + 1 => format!("spec:{lo}"),
                    Some(&next) => format!("spec:{lo}-{}", next - 1),
                    None => format!("spec:{lo}+"),
                });
            }
        }
        Strata { names, labels: labels.to_vec(), ubiquitous: ubiquitous.to_vec(), edges, has_specificity }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The name of the specificity bin for a count.
    pub fn specificity_bin(&self, spec: u32) -> Option<String> {
        if !self.has_specificity {
            return None;
        }
        if spec == 0 || self.edges.first().is_some_and(|&e| spec < e) {
            return Some("spec:0".into());
        }
        let i = self.edges.iter().rposition(|&e| e <= spec)?;
        Some(self.names[self.names.iter().position(|n| n == "spec:0").unwrap() + 1 + i].clone())
    }

    /// Strata (indices) a peak belongs to.
    pub fn assign(&self, label: Option<&str>, specificity: Option<u32>) -> Vec<usize> {
        let mut out = vec![0];
        if let Some(l) = label {
            if !self.ubiquitous.is_empty() {
                out.push(if self.ubiquitous.iter().any(|u| u == l) { 1 } else { 2 });
            }
            if let Some(i) = self.labels.iter().position(|x| x == l) {
                out.push(1 + 2 * (!self.ubiquitous.is_empty()) as usize + i);
            }
        }
        if let Some(b) = specificity.and_then(|s| self.specificity_bin(s)) {
            out.push(self.index(&b).unwrap());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_assignment() {
        let labels = vec!["c1_Ubiq".to_string(), "c2_PT".to_string()];
        let s = Strata::new(&labels, &["c1_Ubiq".to_string()], &DEFAULT_SPECIFICITY_EDGES, true);
        assert_eq!(s.names(), ["all", "ubiquitous", "specific", "cluster:c1_Ubiq", "cluster:c2_PT", "spec:0", "spec:1", "spec:2-3", "spec:4-6", "spec:7+"]);
        let names = |v: Vec<usize>| v.into_iter().map(|i| s.names()[i].clone()).collect::<Vec<_>>();
        assert_eq!(names(s.assign(Some("c2_PT"), Some(1))), ["all", "specific", "cluster:c2_PT", "spec:1"]);
        assert_eq!(names(s.assign(Some("c1_Ubiq"), Some(10))), ["all", "ubiquitous", "cluster:c1_Ubiq", "spec:7+"]);
        assert_eq!(names(s.assign(None, Some(0))), ["all", "spec:0"]);
        assert_eq!(names(s.assign(Some("other"), Some(3))), ["all", "specific", "spec:2-3"]);
        // Enformer-style edges
        let e = Strata::new(&[], &[], &[1, 10, 50, 100, 300], true);
        assert_eq!(e.specificity_bin(9).unwrap(), "spec:1-9");
        assert_eq!(e.specificity_bin(300).unwrap(), "spec:300+");
        assert!(Strata::new(&[], &[], &[1], false).specificity_bin(3).is_none());
    }
}
