//! The Merkle tree of RFC 9162 (Certificate Transparency v2, §2.1) with SM3 as the hash.
//!
//! Leaves are hashed as `SM3(0x00 || index (u64, big-endian) || payload)`: the index inside the
//! leaf makes a reordered log a different tree even when two payloads are equal. Interior
//! nodes are `SM3(0x01 || left || right)`; the empty tree's root is `SM3("")`.

use sm3::{Digest, Sm3};

pub type Hash = [u8; 32];

/// Leaves per block: subtrees at or above this level are kept in memory, smaller ones are
/// recomputed from the block's leaf hashes read from storage.
pub const BLOCK_LEVEL: u32 = 8;
pub const BLOCK: u64 = 1 << BLOCK_LEVEL;

pub fn leaf_hash(index: u64, payload: &[u8]) -> Hash {
    let mut h = Sm3::new();
    h.update([0u8]);
    h.update(index.to_be_bytes());
    h.update(payload);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sm3::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

pub fn empty_root() -> Hash {
    Sm3::digest(b"").into()
}

/// The largest power of two strictly smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[n]) over leaf hashes, by the definition (RFC 9162 §2.1.1). The reference the
/// incremental structures are tested against.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// Hashes of complete subtrees: `perfect(level, i)` is MTH of leaves
/// `[i << level, (i + 1) << level)`.
pub trait Subtrees {
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, MissingBlock>;
}

/// A proof needed the leaf hashes of a block that was not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingBlock(pub u64);

/// MTH of leaves `[start, end)` where `start` is a multiple of the largest power of two not
/// above `end - start` (true of every subtree RFC 9162's recursion visits).
pub fn subtree(src: &mut dyn Subtrees, start: u64, end: u64) -> Result<Hash, MissingBlock> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return src.perfect(level, start >> level);
    }
    let k = split(n);
    let l = subtree(src, start, start + k)?;
    let r = subtree(src, start + k, end)?;
    Ok(node_hash(&l, &r))
}

/// PATH(m, D[n]) (RFC 9162 §2.1.3.1): the audit path of leaf `m` in the tree of size `n`.
pub fn inclusion_path(src: &mut dyn Subtrees, m: u64, n: u64) -> Result<Vec<Hash>, MissingBlock> {
    let mut path = Vec::new();
    path_into(src, m, 0, n, &mut path)?;
    Ok(path)
}

fn path_into(
    src: &mut dyn Subtrees,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), MissingBlock> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < start + k {
        path_into(src, m, start, start + k, out)?;
        out.push(subtree(src, start + k, end)?);
    } else {
        path_into(src, m, start + k, end, out)?;
        out.push(subtree(src, start, start + k)?);
    }
    Ok(())
}

/// PROOF(m, D[n]) (RFC 9162 §2.1.4.1): the consistency proof between tree sizes `m ≤ n`.
pub fn consistency_proof(
    src: &mut dyn Subtrees,
    m: u64,
    n: u64,
) -> Result<Vec<Hash>, MissingBlock> {
    let mut proof = Vec::new();
    if m == 0 || m >= n {
        return Ok(proof);
    }
    subproof(src, m, 0, n, true, &mut proof)?;
    Ok(proof)
}

fn subproof(
    src: &mut dyn Subtrees,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), MissingBlock> {
    let n = end - start;
    let m_rel = m - start;
    if m_rel == n {
        if !complete {
            out.push(subtree(src, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m_rel <= k {
        subproof(src, m, start, start + k, complete, out)?;
        out.push(subtree(src, start + k, end)?);
    } else {
        subproof(src, m, start + k, end, false, out)?;
        out.push(subtree(src, start, start + k)?);
    }
    Ok(())
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> bool {
    if leaf_index >= tree_size {
        return false;
    }
    let (mut f, mut s) = (leaf_index, tree_size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && &r == root
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        // Every tree extends the empty tree.
        return proof.is_empty();
    }
    let mut nodes: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        nodes.push(*first_root);
    }
    nodes.extend_from_slice(proof);
    let Some((head, rest)) = nodes.split_first() else {
        return false;
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*head, *head);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    &fr == first_root && &sr == second_root && s == 0
}

/// The compact range of a tree: the roots of the perfect subtrees its size decomposes into,
/// left to right. Appending is amortised O(1); the root is O(log n).
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    /// (level, hash), levels strictly decreasing.
    nodes: Vec<(u32, Hash)>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        self.push_subtree(0, leaf);
    }

    /// Appends a whole perfect subtree of `2^level` leaves at once, its root computed
    /// elsewhere (verification hashes blocks on every core). The tree's size must be a
    /// multiple of `2^level`, as it is for an aligned block.
    pub fn push_subtree(&mut self, level: u32, root: Hash) {
        debug_assert!(self.size.is_multiple_of(1 << level));
        let mut node = (level, root);
        while let Some(&(level, left)) = self.nodes.last() {
            if level != node.0 {
                break;
            }
            self.nodes.pop();
            node = (level + 1, node_hash(&left, &node.1));
        }
        self.nodes.push(node);
        self.size += 1 << level;
    }

    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(&(_, mut r)) = it.next() else {
            return empty_root();
        };
        for (_, left) in it {
            r = node_hash(left, &r);
        }
        r
    }
}

/// The log's tree as the server keeps it: every complete subtree of at least [`BLOCK`]
/// leaves in memory (2 × 32 bytes per block: 2.5 MB at 10 M entries) and the leaf hashes of
/// the incomplete last block. Smaller subtrees of complete blocks come from storage.
#[derive(Debug, Clone, Default)]
pub struct TreeCache {
    size: u64,
    /// `upper[j][i]` = perfect subtree at level `BLOCK_LEVEL + j`, index `i`.
    upper: Vec<Vec<Hash>>,
    tail: Vec<Hash>,
}

impl TreeCache {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        self.tail.push(leaf);
        self.size += 1;
        if self.tail.len() as u64 == BLOCK {
            let block = root_of(&self.tail);
            self.tail.clear();
            self.push_upper(0, block);
        }
    }

    fn push_upper(&mut self, j: usize, hash: Hash) {
        if self.upper.len() <= j {
            self.upper.push(Vec::new());
        }
        self.upper[j].push(hash);
        let len = self.upper[j].len();
        if len.is_multiple_of(2) {
            let parent = node_hash(&self.upper[j][len - 2], &self.upper[j][len - 1]);
            self.push_upper(j + 1, parent);
        }
    }

    /// The frontier of the current tree, for computing roots of trees extending it.
    pub fn frontier(&self) -> Frontier {
        let mut nodes = Vec::new();
        let mut start = 0u64;
        for level in (BLOCK_LEVEL..64).rev() {
            if self.size >> level & 1 == 1 {
                let j = (level - BLOCK_LEVEL) as usize;
                nodes.push((level, self.upper[j][(start >> level) as usize]));
                start += 1 << level;
            }
        }
        let mut tail = Frontier::default();
        for leaf in &self.tail {
            tail.push(*leaf);
        }
        nodes.extend(tail.nodes);
        Frontier {
            size: self.size,
            nodes,
        }
    }

    pub fn root(&self) -> Hash {
        self.frontier().root()
    }

    /// Whether block `b` is complete (its leaves must come from storage).
    pub fn is_stored_block(&self, b: u64) -> bool {
        b < self.size >> BLOCK_LEVEL
    }
}

/// A [`Subtrees`] over a [`TreeCache`] plus the leaf hashes of blocks read from storage.
pub struct CachedSubtrees<'a> {
    pub cache: &'a TreeCache,
    pub blocks: &'a std::collections::HashMap<u64, Vec<Hash>>,
    /// Blocks asked for and not present (when planning which to load).
    pub missing: Vec<u64>,
}

impl Subtrees for CachedSubtrees<'_> {
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, MissingBlock> {
        if level >= BLOCK_LEVEL {
            let j = (level - BLOCK_LEVEL) as usize;
            return self
                .cache
                .upper
                .get(j)
                .and_then(|v| v.get(index as usize))
                .copied()
                .ok_or(MissingBlock(index << (level - BLOCK_LEVEL)));
        }
        let first = index << level;
        let block = first >> BLOCK_LEVEL;
        let offset = (first - (block << BLOCK_LEVEL)) as usize;
        let width = 1usize << level;
        let leaves: &[Hash] = if self.cache.is_stored_block(block) {
            match self.blocks.get(&block) {
                Some(v) => v,
                None => {
                    if !self.missing.contains(&block) {
                        self.missing.push(block);
                    }
                    return Ok([0u8; 32]);
                }
            }
        } else {
            &self.cache.tail
        };
        leaves
            .get(offset..offset + width)
            .map(root_of)
            .ok_or(MissingBlock(block))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(i, format!("entry {i}").as_bytes()))
            .collect()
    }

    /// Subtrees straight from the full list of leaves.
    struct Full<'a>(&'a [Hash]);
    impl Subtrees for Full<'_> {
        fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, MissingBlock> {
            let s = (index << level) as usize;
            Ok(root_of(&self.0[s..s + (1 << level)]))
        }
    }

    #[test]
    fn sm3_published_vectors() {
        // GB/T 32905-2016 Appendix A.
        assert_eq!(
            hex::encode(Sm3::digest(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            hex::encode(Sm3::digest(b"abcd".repeat(16))),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
        assert_eq!(
            hex::encode(empty_root()),
            "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
        );
    }

    #[test]
    fn rfc_structure_for_small_trees() {
        let l = leaves(7);
        // RFC 9162 §2.1.5's example tree of 7 leaves.
        let a = node_hash(&l[0], &l[1]);
        let b = node_hash(&l[2], &l[3]);
        let c = node_hash(&l[4], &l[5]);
        let k = node_hash(&a, &b);
        let expected = node_hash(&k, &node_hash(&c, &l[6]));
        assert_eq!(root_of(&l), expected);
        // The audit path for d0 is [b, h, i] in the RFC's naming.
        assert_eq!(
            inclusion_path(&mut Full(&l), 0, 7).unwrap(),
            vec![l[1], b, node_hash(&c, &l[6])]
        );
        // PROOF(3, D[7]) = [c, d, g, l]: here [l2, l3, a, i].
        assert_eq!(
            consistency_proof(&mut Full(&l), 3, 7).unwrap(),
            vec![l[2], l[3], a, node_hash(&c, &l[6])]
        );
        assert_eq!(
            consistency_proof(&mut Full(&l), 4, 7).unwrap(),
            vec![node_hash(&c, &l[6])]
        );
    }

    #[test]
    fn verification_refuses_wrong_proofs() {
        let l = leaves(13);
        let root = root_of(&l);
        let path = inclusion_path(&mut Full(&l), 5, 13).unwrap();
        assert!(verify_inclusion(5, 13, &l[5], &path, &root));
        assert!(!verify_inclusion(6, 13, &l[5], &path, &root));
        assert!(!verify_inclusion(5, 13, &l[6], &path, &root));
        assert!(!verify_inclusion(5, 13, &l[5], &path[1..], &root));
        let old = root_of(&l[..6]);
        let proof = consistency_proof(&mut Full(&l), 6, 13).unwrap();
        assert!(verify_consistency(6, 13, &old, &root, &proof));
        assert!(!verify_consistency(6, 13, &root, &old, &proof));
        assert!(!verify_consistency(7, 13, &old, &root, &proof));
        let forged = root_of(&leaves(6)[..5]);
        assert!(!verify_consistency(6, 13, &forged, &root, &proof));
    }

    proptest! {
        #[test]
        fn proofs_verify_for_every_size(n in 1u64..700, m_frac in 0.0f64..1.0, old_frac in 0.0f64..1.0) {
            let l = leaves(n);
            let root = root_of(&l);
            let m = ((n as f64) * m_frac) as u64 % n;
            let path = inclusion_path(&mut Full(&l), m, n).unwrap();
            prop_assert!(verify_inclusion(m, n, &l[m as usize], &path, &root));
            let old = 1 + ((n as f64) * old_frac) as u64 % n;
            let proof = consistency_proof(&mut Full(&l), old, n).unwrap();
            prop_assert!(verify_consistency(old, n, &root_of(&l[..old as usize]), &root, &proof));
        }

        #[test]
        fn incremental_structures_agree_with_the_definition(n in 0u64..1200) {
            let l = leaves(n);
            let mut f = Frontier::default();
            let mut c = TreeCache::default();
            for h in &l {
                f.push(*h);
                c.push(*h);
            }
            let root = root_of(&l);
            prop_assert_eq!(f.root(), root);
            prop_assert_eq!(c.root(), root);
            // Whole aligned blocks pushed as subtrees, the rest leaf by leaf: the same tree.
            let mut b = Frontier::default();
            let whole = l.len() / BLOCK as usize * BLOCK as usize;
            for block in l[..whole].chunks(BLOCK as usize) {
                b.push_subtree(BLOCK_LEVEL, root_of(block));
            }
            for h in &l[whole..] {
                b.push(*h);
            }
            prop_assert_eq!(b.size(), n);
            prop_assert_eq!(b.root(), root);
            if n > 0 {
                // Proofs from the cache (with stored blocks) equal proofs from the full list.
                let blocks: HashMap<u64, Vec<Hash>> = l
                    .chunks(BLOCK as usize)
                    .enumerate()
                    .map(|(i, b)| (i as u64, b.to_vec()))
                    .collect();
                let m = n / 3;
                let mut src = CachedSubtrees { cache: &c, blocks: &blocks, missing: vec![] };
                let got = inclusion_path(&mut src, m, n).unwrap();
                prop_assert_eq!(got, inclusion_path(&mut Full(&l), m, n).unwrap());
                let got = consistency_proof(&mut src, m.max(1), n).unwrap();
                prop_assert_eq!(got, consistency_proof(&mut Full(&l), m.max(1), n).unwrap());
            }
        }
    }
}
