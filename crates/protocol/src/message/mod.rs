//! Message records (the stored = pull format), properties, batches, ids, hashes.
