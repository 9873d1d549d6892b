"""Streamlit glue between the views and `core`, one module per concern.

- `pages`: the page table (file, title, icon, address, blurb); no torch, so the home page stays light
- `startup`: what a server does once before the first page that needs torch (imports, guard, settings)
  and the warm-up thread that fills the caches while the home page is read
- `caches`: the only caching: models, test digits, maps, figures, and `warm_up`
- `widgets`: model pickers, digit rows, "your digit: upload or draw", and how errors are shown
- `links`: URL state, declared once per widget, and "Link to this view"
- `settings`: the operator's settings (environment or secrets.toml)
- `guard`: widget values as a browser sends them, checked where Streamlit reads them
- `session`: which visitor and tab a run belongs to

Importing this package imports nothing else.
"""
