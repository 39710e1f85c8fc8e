"""Report forms: their declaration (spec), field types, drafts and filing."""
