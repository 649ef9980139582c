//! Cairn: the embedded API (grows with the transactions issue).
