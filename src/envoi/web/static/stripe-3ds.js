// 3-D Secure in the page (Stripe's use_stripe_sdk next action): Stripe.js shows the
// issuer's challenge, then the cardholder goes back to the wallet, which reads the
// payment back from Stripe (nothing from this page is believed).
(function () {
  "use strict";
  var box = document.getElementById("stripe-3ds");
  if (!box || typeof Stripe === "undefined") { return; }
  Stripe(box.dataset.key).handleNextAction({ clientSecret: box.dataset.secret })
    .then(function () { window.location.assign(box.dataset.back); });
})();
