"""Slogan and excerpt scheduler: bilingual cards and statement excerpts, posted on a timeline, exactly once."""
