// acrctl console: filter as you type and copy buttons. Everything the
// server sends is already escaped; this file only fetches console pages.
"use strict";
(function () {
  var filter = document.getElementById("filter");
  var list = document.getElementById("repo-list");
  if (filter && list) {
    var timer = null, seq = 0;
    filter.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++seq, q = filter.value;
        fetch(filter.dataset.fragment + encodeURIComponent(q), {credentials: "same-origin"})
          .then(function (r) {
            // A session that ended answers 401 (or a sign-in page): reload,
            // so that the page itself asks to sign in.
            if (!r.ok || r.redirected) { location.reload(); return Promise.reject(r.status); }
            return r.text();
          })
          .then(function (html) {
            if (mine !== seq) return;
            list.innerHTML = html;
            var u = new URL(location.href);
            if (q) u.searchParams.set("q", q); else u.searchParams.delete("q");
            u.searchParams.delete("after");
            history.replaceState(null, "", u);
          })
          .catch(function () {});
      }, 120);
    });
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest("button.copy");
    if (!b) return;
    var el = document.getElementById(b.dataset.copy);
    if (!el) return;
    var text = el.textContent;
    var done = function () { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(el); done(); });
    } else { fallback(el); done(); }
  });
  function fallback(el) {
    var r = document.createRange();
    r.selectNodeContents(el);
    var s = getSelection();
    s.removeAllRanges();
    s.addRange(r);
    try { document.execCommand("copy"); } catch (err) {}
  }
})();
