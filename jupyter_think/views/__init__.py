"""Views of a session: layout, SVG and text, cards and tables, exports, rich text, the theme."""
