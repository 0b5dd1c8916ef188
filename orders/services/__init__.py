"""Order writes. Every public function is one transaction: lock → check → change → event → outbox."""
