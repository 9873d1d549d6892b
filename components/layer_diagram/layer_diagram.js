// A model's layers in a row (HTML made in Python: elements with data-layer names). A click, a tap or
// Enter/Space on a focused layer outlines it at once and sends its name ("picked") to Python.

const rows = new WeakMap(); // parent element -> {host, html, setStateValue}

function outline(parentElement, name) {
  for (const column of parentElement.querySelectorAll("[data-layer]")) {
    const on = column.dataset.layer === name;
    column.classList.toggle("net-picked", on);
    column.setAttribute("aria-pressed", on ? "true" : "false");
  }
}

function pick(parentElement, column) {
  const row = rows.get(parentElement);
  outline(parentElement, column.dataset.layer);
  if (row && row.setStateValue) row.setStateValue("picked", column.dataset.layer);
}

export default function ({ data, parentElement, setStateValue }) {
  let row = rows.get(parentElement);
  if (!row) {
    row = { host: document.createElement("div"), html: null };
    parentElement.appendChild(row.host);
    rows.set(parentElement, row);
    parentElement.addEventListener("click", (event) => {
      const column = event.target.closest("[data-layer]");
      if (column && parentElement.contains(column)) pick(parentElement, column);
    });
    parentElement.addEventListener("keydown", (event) => {
      const column = event.target.closest("[data-layer]");
      if (column && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault(); // Space would scroll the page
        pick(parentElement, column);
      }
    });
  }
  row.setStateValue = setStateValue;
  const html = String((data && data.html) || "");
  if (row.html !== html) {
    const scrolled = row.host.querySelector(".net-diagram");
    const left = scrolled ? scrolled.scrollLeft : 0; // on a phone the row keeps where it was swiped to
    row.host.innerHTML = html; // the row as Python drew it for this digit
    const again = row.host.querySelector(".net-diagram");
    if (again) again.scrollLeft = left;
    row.html = html;
  }
  outline(parentElement, data && data.current);
}
