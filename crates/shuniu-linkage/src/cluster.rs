//! Clusters: the records joined, directly or through others, by pairs at or above a threshold
//! (connected components).

/// Union-find over `n` records.
struct Components {
    parent: Vec<u32>,
}

impl Components {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }
    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // The smaller index names the cluster, so numbering does not depend on pair order.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi as usize] = lo;
        }
    }
}

/// The cluster of each of `n` records given the linked pairs (indices below `n`): the
/// smallest index in its cluster.
pub fn clusters(n: usize, pairs: impl IntoIterator<Item = (u32, u32)>) -> Vec<u32> {
    let mut c = Components {
        parent: (0..n as u32).collect(),
    };
    for (a, b) in pairs {
        if (a as usize) < n && (b as usize) < n {
            c.union(a, b);
        }
    }
    (0..n as u32).map(|x| c.find(x)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_through_chains() {
        let c = clusters(6, [(4, 2), (2, 0), (3, 5)]);
        assert_eq!(c, vec![0, 1, 0, 3, 0, 3]);
    }
}
