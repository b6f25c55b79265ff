//! OrderBook: one instrument's order book built from the book records a
//! strategy receives in `on_book`, as the Go SDK's `OrderBook`.

use crate::abi::{Book, Fixed, Level, BOOK_CONTINUATION};
use crate::fixed;

/// One instrument's order book:
///
/// ```ignore
/// fn on_book(&mut self, ctx: &mut Context, b: &Book, snapshot: bool) {
///     if b.instrument != self.inst || !self.book.apply(b, snapshot) {
///         return; // another instrument, or a gap: wait for the next snapshot
///     }
///     let bid = self.book.best_bid();
/// }
/// ```
///
/// A snapshot replaces the book; a change sets levels (amount 0 deletes
/// one). A change whose `prev_change_id` is not the change id of the record
/// applied before it is a gap (abi/README.md §14): the book is cleared and
/// invalid until the next snapshot. Records split with the
/// book_continuation feature are handled. It allocates only when it grows
/// beyond the most levels it has held.
#[derive(Clone, Debug, Default)]
pub struct OrderBook {
    bids: Vec<Level>, // best (highest) first
    asks: Vec<Level>, // best (lowest) first
    change_id: u64,
    valid: bool,
}

impl OrderBook {
    /// Applies a book record (snapshot: a book_snapshot record). False when
    /// the record does not follow the book, which is then invalid until the
    /// next snapshot.
    pub fn apply(&mut self, rec: &Book, snapshot: bool) -> bool {
        let cont = rec.flags & BOOK_CONTINUATION != 0;
        let follows = if snapshot && !cont {
            self.bids.clear();
            self.asks.clear();
            self.valid = true;
            true
        } else if cont {
            self.valid && rec.change_id == self.change_id
        } else {
            self.valid && rec.prev_change_id == self.change_id
        };
        if !follows {
            self.reset();
            return false;
        }
        for l in rec.bids() {
            set_level(&mut self.bids, l, true);
        }
        for l in rec.asks() {
            set_level(&mut self.asks, l, false);
        }
        self.change_id = rec.change_id;
        true
    }

    /// Empties the book and makes it invalid until the next snapshot.
    pub fn reset(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.change_id = 0;
        self.valid = false;
    }

    /// Whether the book holds a snapshot and every change since.
    pub fn valid(&self) -> bool {
        self.valid
    }
    /// The change id of the last record applied.
    pub fn change_id(&self) -> u64 {
        self.change_id
    }
    /// The bid levels, best (highest price) first.
    pub fn bids(&self) -> &[Level] {
        &self.bids
    }
    /// The ask levels, best (lowest price) first.
    pub fn asks(&self) -> &[Level] {
        &self.asks
    }
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.first().copied()
    }
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.first().copied()
    }
    /// The middle of the best bid and ask, when the book is valid with both
    /// sides.
    pub fn mid(&self) -> Option<Fixed> {
        match (self.valid, self.best_bid(), self.best_ask()) {
            (true, Some(b), Some(a)) => Some(fixed::mid(b.price, a.price)),
            _ => None,
        }
    }
}

// Sets l in levels, sorted best first (descending prices for bids).
fn set_level(levels: &mut Vec<Level>, l: Level, bids: bool) {
    let i = levels.partition_point(|x| if bids { x.price > l.price } else { x.price < l.price });
    let here = i < levels.len() && levels[i].price == l.price;
    if here && l.amount == 0 {
        levels.remove(i);
    } else if here {
        levels[i].amount = l.amount;
    } else if l.amount != 0 {
        levels.insert(i, l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn snapshot_change_gap() {
        let mut ob = OrderBook::default();
        let snap = testing::book(true, 0, 1, &[(100, 5), (99, 7)], &[(101, 3), (102, 4)], 0);
        assert!(ob.apply(&Book::decode(&snap).unwrap(), true));
        let ch = testing::book(false, 1, 2, &[(100, 0), (98, 1), (99, 8)], &[(100, 2)], 0);
        assert!(ob.apply(&Book::decode(&ch).unwrap(), false));
        assert_eq!(ob.bids(), &[Level { price: 99, amount: 8 }, Level { price: 98, amount: 1 }]);
        assert_eq!(ob.asks()[0], Level { price: 100, amount: 2 });
        assert_eq!(ob.mid(), Some(99));
        let cont = testing::book(false, 0, 2, &[(97, 1)], &[], BOOK_CONTINUATION);
        assert!(ob.apply(&Book::decode(&cont).unwrap(), false));
        assert_eq!(ob.bids().len(), 3);
        let gap = testing::book(false, 5, 6, &[], &[], 0);
        assert!(!ob.apply(&Book::decode(&gap).unwrap(), false));
        assert!(!ob.valid() && ob.bids().is_empty() && ob.mid().is_none());
    }
}
