/* The widget manager typesets widget labels with the MathJax 2 call MathJax.Hub.Queue; the book
   loads MathJax 3, which has no Hub. Registered before embed.js renders the widgets (both run on
   window "load", in order), this maps the call onto MathJax 3. */
window.addEventListener("load", function () {
  var M = window.MathJax;
  if (M && !M.Hub && M.typesetPromise) {
    M.Hub = { Queue: function (job) {
      var el = Array.isArray(job) ? job[2] : undefined;
      M.typesetPromise(el ? [el] : undefined).catch(function () {});
    } };
  }
});
