// The Stripe top-up form: Stripe.js turns the card typed into Stripe's own fields into a
// PaymentMethod in the browser; only its id (pm_...) is posted to envoi.
(function () {
  "use strict";
  var form = document.getElementById("stripe-topup");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.key, { locale: form.dataset.locale });
  var card = stripe.elements().create("card", { hidePostalCode: true });
  var errors = document.getElementById("card-errors");
  card.mount("#card-element");
  form.addEventListener("submit", function (event) {
    if (form.elements.payment_method.value) { return; }
    event.preventDefault();
    stripe.createPaymentMethod({ type: "card", card: card }).then(function (result) {
      if (result.error) { errors.textContent = result.error.message; return; }
      form.elements.payment_method.value = result.paymentMethod.id;
      form.submit();
    });
  });
})();
