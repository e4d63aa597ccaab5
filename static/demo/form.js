// A little client-side behaviour, so browser steps exercise a real page and not only HTML.
// A file of its own, not an inline script: the Content-Security-Policy allows no inline script.
document.getElementById("greet").addEventListener("submit", function (event) {
  if (!document.getElementById("name").value.trim()) {
    event.preventDefault();
    document.getElementById("hint").hidden = false;
  }
});
