// The Jupyter widget manager typesets widget labels through MathJax 2's API,
// MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]), whenever window.MathJax
// exists; this site runs MathJax 3, which has no Hub. Widgets render on the
// window's load event, after MathJax 3 has been loaded (it is deferred), so
// adding the one method MathJax 2 code calls at DOMContentLoaded is in time.
document.addEventListener("DOMContentLoaded", () => {
  if (!window.MathJax?.startup) {
    return;
  }
  window.MathJax.Hub = {
    Queue: ([, , element]) =>
      window.MathJax.startup.promise.then(() => window.MathJax.typesetPromise([element])),
  };
});
