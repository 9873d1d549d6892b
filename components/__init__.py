"""Custom Streamlit components: plain JavaScript and CSS served with the page, no build step."""
