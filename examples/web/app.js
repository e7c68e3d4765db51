// Live values come over Server-Sent Events (/events, event "status"); messages over a WebSocket
// (/ws): what the form sends is published to MQTT by the board, and every MQTT message on the
// dashboard topic comes back to every open page.
const events = new EventSource("/events");
events.addEventListener("status", (e) => {
  const status = JSON.parse(e.data);
  document.getElementById("uptime").textContent = status.uptime_s;
  document.getElementById("temperature").textContent = status.temperature.toFixed(1);
  document.getElementById("mqtt").textContent = status.mqtt_connected ? "connected" : "not connected";
});

const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
socket.onopen = () => { document.getElementById("socket").textContent = "connected"; };
socket.onclose = () => { document.getElementById("socket").textContent = "closed"; };
socket.onmessage = (e) => {
  const item = document.createElement("li");
  item.textContent = e.data;
  document.getElementById("messages").prepend(item);
};

document.getElementById("send").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = document.getElementById("text");
  socket.send(input.value);
  input.value = "";
});
