"""Widgets for the municipal website: /embed.js and the pages it frames."""
