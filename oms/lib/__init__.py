"""Cross-cutting helpers shared by every app (no domain logic)."""
