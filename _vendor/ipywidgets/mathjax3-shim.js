/* The widget manager typesets widget labels with the MathJax 2 call MathJax.Hub.Queue; the book
   loads MathJax 4 (deferred), which has no Hub. This script runs before MathJax starts, while
   window.MathJax is still the configuration object: it gives that object a Hub, and asks MathJax's
   startup to give the real MathJax object the same Hub once it exists. The Hub waits for MathJax's
   startup, then typesets the element. */
(function () {
  var hub = { Queue: function (job) {
    var el = Array.isArray(job) ? job[2] : undefined;
    var M = window.MathJax;
    var ready = (M && M.startup && M.startup.promise) || Promise.resolve();
    ready.then(function () {
      var N = window.MathJax;
      return N && N.typesetPromise ? N.typesetPromise(el ? [el] : undefined) : null;
    }).catch(function () {});
  } };
  var M = window.MathJax = window.MathJax || {};
  if (M.Hub) { return; }
  M.Hub = hub;
  var startup = M.startup = M.startup || {};
  var before = startup.ready;
  startup.ready = function () {
    if (before) { before(); } else { window.MathJax.startup.defaultReady(); }
    window.MathJax.Hub = hub;
  };
})();
