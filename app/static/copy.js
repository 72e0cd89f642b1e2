// Copy buttons: <button data-copy="ID" hidden> copies the text of the element with that
// id, and says so in the element with data-copy-status="ID". A file of its own rather
// than an inline script: the Content-Security-Policy allows scripts from this origin only.
// Without script the button stays hidden and the text can be selected by hand.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var id = button.dataset.copy;
    var source = document.getElementById(id);
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    if (!source) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = source.textContent;
      var say = function (message) { if (status) status.textContent = message; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { say("Copied."); },
          function () { selectAndCopy(source) ? say("Copied.") : say("Selected: press Ctrl+C to copy."); });
      } else {
        selectAndCopy(source) ? say("Copied.") : say("Selected: press Ctrl+C to copy.");
      }
    });
  });

  // Plain http (not localhost) has no clipboard API: select the text and ask the browser.
  function selectAndCopy(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
});
