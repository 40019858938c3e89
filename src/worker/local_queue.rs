//! Claimed attempts waiting for a slot on this worker, taken best first by the queue's
//! order (workflow priority, instance id, task priority, task instance id), whatever order
//! they were claimed in.

use std::sync::{Arc, Mutex};

/// The task queue's order key of an attempt: smaller runs first.
pub type OrderKey = (i16, i64, i16, i64);

/// Shared between the fetcher (which pushes) and the dispatchers (each pops the best
/// item when it gets a slot).
pub struct LocalQueue<T> {
    items: Arc<Mutex<Vec<(OrderKey, T)>>>,
}

impl<T> Clone for LocalQueue<T> {
    fn clone(&self) -> Self {
        LocalQueue {
            items: self.items.clone(),
        }
    }
}

impl<T> Default for LocalQueue<T> {
    fn default() -> Self {
        LocalQueue {
            items: Arc::default(),
        }
    }
}

impl<T> LocalQueue<T> {
    pub fn push(&self, key: OrderKey, item: T) {
        self.items
            .lock()
            .expect("local queue lock")
            .push((key, item));
    }

    /// The waiting item with the smallest key.
    pub fn pop(&self) -> Option<T> {
        let mut items = self.items.lock().expect("local queue lock");
        let best = items
            .iter()
            .enumerate()
            .min_by_key(|(_, (key, _))| *key)
            .map(|(i, _)| i)?;
        Some(items.swap_remove(best).1)
    }

    pub fn len(&self) -> usize {
        self.items.lock().expect("local queue lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_best_waiting_attempt_comes_first_whatever_the_claim_order() {
        let q = LocalQueue::default();
        q.push((2, 10, 2, 100), "low priority instance");
        q.push((0, 11, 2, 101), "high priority instance");
        q.push((2, 9, 2, 99), "older instance");
        q.push((0, 11, 0, 102), "high priority task");
        assert_eq!(q.pop(), Some("high priority task"));
        assert_eq!(q.pop(), Some("high priority instance"));
        assert_eq!(q.pop(), Some("older instance"));
        assert_eq!(q.pop(), Some("low priority instance"));
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn clones_share_the_items() {
        let q = LocalQueue::default();
        let other = q.clone();
        q.push((1, 1, 1, 1), 1);
        assert_eq!(other.len(), 1);
        assert_eq!(other.pop(), Some(1));
        assert!(q.is_empty());
    }

    proptest! {
        #[test]
        fn pops_come_out_sorted_by_key(keys in proptest::collection::vec((0i16..5, 0i64..50, 0i16..5, 0i64..1000), 0..40)) {
            let q = LocalQueue::default();
            for (i, key) in keys.iter().enumerate() {
                q.push(*key, i);
            }
            let mut out = Vec::new();
            while let Some(i) = q.pop() {
                out.push(keys[i]);
            }
            let mut sorted = keys.clone();
            sorted.sort();
            prop_assert_eq!(out, sorted);
        }
    }
}
